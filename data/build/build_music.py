"""Build the bundled multitrack music data (MUSDB18-style stems) from MIDI songs.

Each song is a human-composed multitrack MIDI file from the OpenMSX music set
(Debian package ``openttd-openmsx``).  A short excerpt of every song is rendered
one instrument group at a time, so that the four stems add up exactly to the
mixture:

* drums  -- the MIDI drum channel, played with the real recorded GMRockKit
            samples of Hydrogen (``hydrogen-data``); drum notes the kit lacks
            are rendered with the General MIDI soundfont.
* bass   -- General MIDI programs 33-40 (pretty_midi programs 32-39),
            FluidSynth + TimGM6mb.sf2.
* vocals -- the song's melodic lead line, sung by the Festival speech
            synthesiser in singing mode (voice ``kal_diphone``), in phrases
            separated by silent bars.  The sung notes are removed from the
            instrument that played them so that the melody is not doubled.
* other  -- everything else, FluidSynth + TimGM6mb.sf2.

Output layout (MUSDB18 "decoded" layout, FLAC instead of WAV)::

    OUT/{train,test}/<Artist - Title>/{mixture,drums,bass,other,vocals}.flac

All files are stereo, 22050 Hz, 16-bit.  The mixture is exactly the sum of the
four int16 stems.

Usage::

    python data/build/build_music.py --out data/musdb            # build
    python data/build/build_music.py --out data/musdb --verify   # print checks of a build
    python data/build/build_music.py --out data/musdb --check    # rebuild in a temp dir, compare checksums
    python data/build/build_music.py --whole-songs --out .cache/musdb_whole   # whole training songs (WAV)
"""

import argparse
import copy
import hashlib
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

try:
    import pretty_midi
except ImportError:  # only rendering needs it: the song table and the plan logic import without it (CI's tests)
    pretty_midi = None

SR = 22050                      # output sample rate (Hz)
EXCERPT_SECONDS = 7.0           # default excerpt length
STEMS = ("drums", "bass", "other", "vocals")

MIDI_DIR = Path("/usr/share/games/openttd/baseset/openmsx")
KIT_DIR = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")
SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2" if pretty_midi else None
FESTIVAL_VOICE = "voice_kal_diphone"

# Fixed linear gains of the accompaniment groups, the same for every song.
GROUP_GAIN = {"drums": 0.6, "bass": 1.4, "other": 1.0}
# The vocal is mixed this many dB below the accompaniment (RMS over the
# frames where the vocal sounds), like a mix engineer setting the vocal fader.
VOCAL_TO_ACCOMP_DB = -2.5
FLUIDSYNTH_GAIN = 0.5           # fluidsynth -g (same for every soundfont render)
MIX_PEAK_DBFS = -6.0            # peak of the int16 mixture (headroom keeps the FLACs small)
BASS_PROGRAMS = range(32, 40)   # pretty_midi numbering (GM 33-40)
MIN_SUNG_NOTE = 0.08            # shorter lead notes stay instrumental (s)

# General MIDI drum note -> GMRockKit instrument name (as in drumkit.xml).
GM_TO_KIT = {
    35: "Kick", 36: "Kick", 37: "Stick", 38: "Snare", 39: "Hand Clap",
    40: "Snare", 41: "Floor Tom", 43: "Floor Tom", 45: "Tom 2", 47: "Tom 2",
    48: "Tom 1", 50: "Tom 1", 42: "Hat Closed", 44: "Hat Pedal",
    46: "Hat Open", 49: "Crash", 57: "Crash", 51: "Ride", 59: "Ride",
    53: "Bell", 55: "Splash", 56: "Cowbell",
}

# One-syllable words sung in order, one word per note.  All start with a
# consonant: a vowel-initial word stretched over a long note starts audibly
# late in Festival's diphone synthesis.
LYRICS = ("my love come home to me now the night grows long the road goes by "
          "so sing with me then hold me tight the train will run right "
          "through the night").split()


@dataclass(frozen=True)
class Song:
    """A song of the OpenMSX set and how to split it into stems."""
    file: str          # MIDI file name in MIDI_DIR
    artist: str        # composer (OpenMSX readme.txt credits)
    title: str         # title (openmsx.obm [names])
    lead: tuple        # indices of the pretty_midi instruments playing the lead line
    subset: str        # "train" or "test"

    @property
    def name(self):
        """Track folder name, MUSDB style 'Artist - Title'."""
        return f"{self.artist} - {self.title}"


SONGS = (
    Song("be_sharp_bw_redfarn.mid", "Jim Redfarn", "Be Sharp Boogie", (0, 3), "train"),
    Song("busy_schedule.mid", "mimm", "Busy Schedule", (4,), "train"),
    Song("careless_perc_redfarn.mid", "Jim Redfarn", "Careless Love", (0, 2), "train"),
    Song("keep_on_rolling.mid", "Trolley Trev", "Keep on Rolling", (0,), "train"),
    Song("midnight_snow_run.mid", "Tistou Blomberg", "Midnight Snow Run", (3,), "train"),
    Song("no_work_song_redfarn.mid", "Jim Redfarn", "No Work Song", (2,), "train"),
    Song("say_what_redfarn.mid", "Jim Redfarn", "Say What", (0, 3), "train"),
    Song("train_filled_with_cash.mid", "imuh3", "Train Filled with Cash", (0,), "train"),
    Song("ttsong_iii_imuh3.mid", "imuh3", "Skydive", (3,), "test"),
    Song("modern_motion.mid", "Kyle Timmerman", "Modern Motion", (3,), "test"),
    Song("slow_neasy_redfarn.mid", "Jim Redfarn", "Slow and Easy", (0, 2), "test"),
    Song("the_fast_route.mid", "mimm", "The Fast Route", (1,), "test"),
)


# --------------------------------------------------------------------------
# Score analysis: lead line, sung phrases, excerpt choice
# --------------------------------------------------------------------------

def lead_line(pm, lead):
    """Return the monophonic top line of the lead instruments.

    At each onset the highest note is kept ("skyline"); each kept note is cut
    where the next one starts.  Returns a list of (start, end, pitch) tuples.
    """
    notes = sorted((n for i in lead for n in pm.instruments[i].notes),
                   key=lambda n: (round(n.start, 3), -n.pitch))
    line = []
    for n in notes:
        if line and abs(n.start - line[-1][0]) < 0.03:
            continue                        # lower note of the same chord
        if line and n.start < line[-1][1]:
            line[-1] = (line[-1][0], n.start, line[-1][2])
        line.append((n.start, n.end, n.pitch))
    return [note for note in line if note[1] - note[0] >= MIN_SUNG_NOTE]


def sung_notes(line, downbeats, start, duration, max_bar=2.7):
    """Pick the notes to sing: two bars sung, one bar rest, repeated.

    Bars are counted from the excerpt start (a downbeat); bars longer than
    `max_bar` seconds count as two half bars.  Only notes that start inside
    the excerpt and inside a sung bar are returned, cut at the bar's end.
    """
    end = start + duration
    if np.median(np.diff(downbeats)) > max_bar:
        downbeats = np.sort(np.append(downbeats, (downbeats[1:] + downbeats[:-1]) / 2))
    bars = downbeats[(downbeats >= start - 1e-6) & (downbeats < end)]
    bar_edges = np.append(bars, end)
    sung = []
    for k in range(len(bars)):
        if k % 3 == 2:
            continue
        sung += [(s, min(e, bar_edges[k + 1]), p) for s, e, p in line
                 if bar_edges[k] <= s < bar_edges[k + 1]]
    return [n for n in sung if n[1] - n[0] >= MIN_SUNG_NOTE]


def group_of(inst):
    """Stem group ("drums", "bass" or "other") of a pretty_midi instrument."""
    if inst.is_drum:
        return "drums"
    return "bass" if inst.program in BASS_PROGRAMS else "other"


def split_groups(pm, song, sung):
    """Split the score into the soundfont-rendered groups.

    Returns {group: PrettyMIDI} for "drums", "bass" and "other", each with the
    tempo map of the song.  The sung notes are removed from the lead
    instruments and bass instruments are panned to the centre.
    """
    sung_keys = {(round(s, 3), p) for s, _, p in sung}
    groups = {}
    for g in ("drums", "bass", "other"):
        groups[g] = copy.deepcopy(pm)
        groups[g].instruments = []
    for i, inst in enumerate(pm.instruments):
        inst = copy.deepcopy(inst)
        if i in song.lead:
            inst.notes = [n for n in inst.notes
                          if (round(n.start, 3), n.pitch) not in sung_keys]
        if group_of(inst) == "bass":
            inst.control_changes = [c for c in inst.control_changes if c.number != 10]
            inst.control_changes.insert(0, pretty_midi.ControlChange(10, 64, 0.0))
        groups[group_of(inst)].instruments.append(inst)
    return groups


def coverage(notes, start, duration, bin_seconds=1.0):
    """Fraction of `bin_seconds` bins of the excerpt in which a note sounds."""
    edges = np.arange(start, start + duration - 1e-6, bin_seconds)
    active = np.zeros(len(edges), bool)
    for n in notes:
        end = max(n.end, n.start + 0.25)   # drum hits are very short notes
        active |= (n.start < edges + bin_seconds) & (end > edges)
    return active.mean()


def choose_excerpt(pm, song, duration):
    """Choose the excerpt start (a downbeat) where all four stems are busy.

    Candidates are all downbeats.  Drums, bass and other (without the sung
    notes) must sound in at least 90 % of the one-second bins; among those,
    the start with the largest sung time wins (earliest on ties), each note
    counting at most 0.5 s: this favours song-like passages over fast runs
    and over a few very long notes.
    """
    line = lead_line(pm, song.lead)
    downbeats = pm.get_downbeats()
    best = None
    for start in downbeats[downbeats + duration <= pm.get_end_time()]:
        sung = sung_notes(line, downbeats, start, duration)
        sung_keys = {(round(s, 3), p) for s, _, p in sung}
        notes = {"drums": [], "bass": [], "other": []}
        for i, inst in enumerate(pm.instruments):
            notes[group_of(inst)] += [
                n for n in inst.notes
                if i not in song.lead or (round(n.start, 3), n.pitch) not in sung_keys]
        if min(coverage(v, start, duration) for v in notes.values()) < 0.9:
            continue
        sung_seconds = sum(min(e - s, 0.5) for s, e, _ in sung)
        if best is None or sung_seconds > best[1] + 1e-9:
            best = (float(start), sung_seconds)
    if best is None:
        raise RuntimeError(f"no excerpt of {song.file} has all groups playing")
    return best[0]


# --------------------------------------------------------------------------
# Audio rendering
# --------------------------------------------------------------------------

def pan_gains(pan):
    """Constant-power (left, right) gains for pan in [-1 (left), 1 (right)]."""
    angle = (pan + 1.0) * np.pi / 4.0
    return np.cos(angle), np.sin(angle)


def cut(audio, start, n):
    """Samples [start*SR, start*SR + n) of a (samples, 2) array, zero padded."""
    first = int(round(start * SR))
    out = np.zeros((n, 2), np.float64)
    part = audio[first:first + n]
    out[:len(part)] = part
    return out


def render_soundfont(pm, workdir, tag, soundfont=SOUNDFONT, timeout=None):
    """Render a PrettyMIDI object with the FluidSynth CLI to a stereo array.

    Reverb and chorus are off and the output is 32-bit float (no dither), so
    the rendering is deterministic and never clips.  `soundfont` is the path
    of any .sf2/.sf3 file (default TimGM6mb); `timeout` (s) stops a render
    that runs away (FluidSynth renders forever past a note-on left hanging).
    """
    if not any(inst.notes for inst in pm.instruments):
        return np.zeros((0, 2))
    mid = Path(workdir) / f"{tag}.mid"
    wav = Path(workdir) / f"{tag}.wav"
    pm.write(str(mid))
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0",
                    "-g", str(FLUIDSYNTH_GAIN), "-r", str(SR), "-O", "float",
                    "-T", "wav", "-F", str(wav), str(soundfont), str(mid)],
                   check=True, stdout=subprocess.DEVNULL, timeout=timeout)
    audio, rate = sf.read(wav, dtype="float64", always_2d=True)
    assert rate == SR
    return audio


class DrumKit:
    """A Hydrogen drum kit (default GMRockKit): velocity layers, volume and pan per instrument.

    Reads both drumkit.xml dialects of the kits in hydrogen-data and
    hydrogen-drumkits: with or without the XML namespace, velocity layers or
    one <filename> per instrument, <pan> or <pan_L>/<pan_R>.  Instruments
    without samples are left out.
    """

    def __init__(self, kit_dir=KIT_DIR):
        kit_dir = Path(kit_dir)
        root = ET.parse(kit_dir / "drumkit.xml").getroot()
        for element in root.iter():
            element.tag = element.tag.rpartition("}")[2]   # drop the namespace, if any
        self.instruments = {}
        for inst in root.find("instrumentList"):
            layers = [(float(layer.find("min").text), float(layer.find("max").text),
                       kit_dir / layer.find("filename").text)
                      for layer in inst.iter("layer") if layer.findtext("filename")]
            if not layers and inst.findtext("filename"):
                layers = [(0.0, 1.0, kit_dir / inst.findtext("filename"))]
            if not layers or not inst.findtext("name"):
                continue
            pan = (float(inst.findtext("pan")) if inst.find("pan") is not None
                   else float(inst.findtext("pan_R", "1")) - float(inst.findtext("pan_L", "1")))
            self.instruments[inst.findtext("name")] = {
                "volume": float(inst.findtext("volume", "1")), "pan": pan, "layers": layers}
        self._samples = {}

    def sample(self, path):
        """A kit sample resampled to SR (cached)."""
        if path not in self._samples:
            audio, rate = sf.read(path, dtype="float64", always_2d=True)
            self._samples[path] = librosa.resample(audio.mean(axis=1), orig_sr=rate,
                                                   target_sr=SR, res_type="soxr_hq")
        return self._samples[path]

    def hit(self, name, velocity):
        """Stereo sample for one hit of kit instrument `name` at MIDI velocity."""
        inst = self.instruments[name]
        v = velocity / 127.0
        path = next((p for lo, hi, p in inst["layers"] if lo <= v <= hi), None)
        if path is None:   # a velocity between two layers: the nearest layer
            path = min(inst["layers"], key=lambda layer: min(abs(v - layer[0]), abs(v - layer[1])))[2]
        mono = self.sample(path) * v * inst["volume"]
        return np.stack([mono * g for g in pan_gains(inst["pan"])], axis=1)


def render_drums(drums_pm, kit, start, n, workdir, gm_map=GM_TO_KIT, soundfont=SOUNDFONT):
    """Render the drum channel of an excerpt: kit samples plus soundfont fallback.

    `gm_map` maps GM drum notes to the names of `kit`'s instruments; other
    drum notes are played by `soundfont`.
    """
    out = np.zeros((n, 2))
    fallback = copy.deepcopy(drums_pm)
    for inst in fallback.instruments:
        kept = []
        for note in inst.notes:
            if note.pitch not in gm_map:
                kept.append(note)
                continue
            hit = kit.hit(gm_map[note.pitch], note.velocity)
            pos = int(round((note.start - start) * SR))
            lo, hi = max(pos, 0), min(pos + len(hit), n)
            if lo < hi:
                out[lo:hi] += hit[lo - pos:hi - pos]
        inst.notes = kept
    return out + cut(render_soundfont(fallback, workdir, "drums_fallback", soundfont), start, n)


def onset_lag(y, times, hop=64, max_lag=0.1):
    """Delay (s) of mono audio `y` against the score onsets `times` (s).

    The onset-strength curve of `y` is cross-correlated with an impulse train
    at the score onsets; the lag (within +-max_lag) with the largest
    correlation is returned.  The detector itself reacts a little after a
    note starts, so only lags measured the same way are comparable.
    """
    strength = librosa.onset.onset_strength(y=y, sr=SR, hop_length=hop)
    frames = np.round(np.asarray(times) * SR / hop).astype(int)
    pulses = np.zeros(len(strength))
    pulses[frames[(frames >= 0) & (frames < len(pulses))]] = 1
    lags = np.arange(-int(max_lag * SR / hop), int(max_lag * SR / hop) + 1)
    score = [np.dot(np.roll(pulses, lag), strength) for lag in lags]
    return lags[int(np.argmax(score))] * hop / SR


def kit_hit_times(drums_pm, start, duration, gm_map=GM_TO_KIT):
    """Excerpt-relative times of the drum notes played with kit samples."""
    return sorted(n.start - start for inst in drums_pm.instruments for n in inst.notes
                  if n.pitch in gm_map and 0 <= n.start - start < duration)


def phrases(sung, max_gap=0.3):
    """Group sung notes into phrases separated by rests of at least `max_gap` s."""
    groups = []
    for note in sung:
        if groups and note[0] - groups[-1][-1][1] < max_gap:
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


def vocal_transpose(line, highest=62):
    """Octave shift (semitones) that puts the median pitch of the lead line
    in a male singer's range (MIDI highest-11 .. highest, i.e. D#3-D4)."""
    median = np.median([p for _, _, p in line])
    return -12 * int(np.ceil((median - highest) / 12)) if median > highest else 0


def fold_to_voice(pitch, lowest=43, highest=67):
    """Move a single outlying note by octaves into the range the Festival
    voice can sing in tune (MIDI 43-67, G2-G4)."""
    while pitch > highest:
        pitch -= 12
    while pitch < lowest:
        pitch += 12
    return pitch


def festival_xml(phrase, words, lead_in):
    """Festival singing-mode XML for one phrase: pitch in Hz, lengths in seconds."""
    body = [f'<REST SECONDS="{lead_in:.4f}"></REST>']
    for k, (s, e, p) in enumerate(phrase):
        freq = pretty_midi.note_number_to_hz(p)
        body.append(f'<DURATION SECONDS="{e - s:.4f}"><PITCH FREQ="{freq:.2f}">'
                    f'{words[k]}</PITCH></DURATION>')
        if k + 1 < len(phrase) and phrase[k + 1][0] - e > 1e-3:
            body.append(f'<REST SECONDS="{phrase[k + 1][0] - e:.4f}"></REST>')
    return ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD '
            'SINGING mark up//EN" "Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n'
            + "\n".join(body) + "\n</SINGING>\n")


def render_vocals(sung, n, workdir, target_lag, lead_in=0.25, voice=FESTIVAL_VOICE,
                  lyrics=LYRICS, pan=0.0):
    """Sing the phrases with Festival and place each at its score time (centred by default).

    `sung` holds (start, end, MIDI pitch) with times relative to the excerpt.
    Festival starts some syllables audibly late (a stretched diphone starts
    with a stretched transition), so each phrase is shifted until its
    onset_lag equals `target_lag`, the lag measured on the drum stem: vocal
    and drum onsets then line up with the score in the same way.
    `voice` is a Festival voice command, `lyrics` the words sung in turn,
    `pan` the stereo position in [-1, 1].
    """
    out = np.zeros(n)
    word = 0
    for k, phrase in enumerate(phrases(sung)):
        words = [lyrics[(word + i) % len(lyrics)] for i in range(len(phrase))]
        word += len(phrase)
        xml = Path(workdir) / f"phrase{k}.xml"
        wav = Path(workdir) / f"phrase{k}.wav"
        xml.write_text(festival_xml(phrase, words, lead_in))
        done = subprocess.run(["text2wave", "-mode", "singing", "-eval", f"({voice})",
                               str(xml), "-o", str(wav)])
        if done.returncode != 0:  # Festival crashes on a rare phrase: leave that phrase unsung
            print(f"  text2wave failed (code {done.returncode}) on a phrase at {phrase[0][0]:.2f} s; left silent")
            continue
        audio, rate = sf.read(wav, dtype="float64")
        audio = librosa.resample(audio, orig_sr=rate, target_sr=SR, res_type="soxr_hq")
        times = [lead_in + s - phrase[0][0] for s, _, _ in phrase]
        shift = onset_lag(audio, times) - target_lag
        pos = int(round((phrase[0][0] - lead_in - shift) * SR))
        lo, hi = max(pos, 0), min(pos + len(audio), n)
        out[lo:hi] += audio[lo - pos:hi - pos]
    return np.stack([out * g for g in pan_gains(pan)], axis=1)


def plan_track(song, duration, start=None):
    """Score-level decisions for one song: excerpt start, sung notes, groups.

    `start` (s) defaults to the excerpt chosen by choose_excerpt.
    Returns a dict with the PrettyMIDI score `pm`, the excerpt `start` (s),
    the `sung` notes (start, end, MIDI pitch as sung, times relative to the
    excerpt) and the instrument `groups` (see split_groups).
    """
    pm = pretty_midi.PrettyMIDI(str(MIDI_DIR / song.file))
    start = choose_excerpt(pm, song, duration) if start is None else start
    line = lead_line(pm, song.lead)
    sung = sung_notes(line, pm.get_downbeats(), start, duration)
    transpose = vocal_transpose(line)
    return {"pm": pm, "start": start, "groups": split_groups(pm, song, sung),
            "sung": [(s - start, e - start, fold_to_voice(p + transpose))
                     for s, e, p in sung]}


def build_track(song, duration, kit, start=None):
    """Render the four stems of one song excerpt as float arrays (samples, 2)."""
    plan = plan_track(song, duration, start)
    start, groups = plan["start"], plan["groups"]
    n = int(round(duration * SR))
    with tempfile.TemporaryDirectory() as workdir:
        stems = {
            "drums": render_drums(groups["drums"], kit, start, n, workdir),
            "bass": cut(render_soundfont(groups["bass"], workdir, "bass"), start, n),
            "other": cut(render_soundfont(groups["other"], workdir, "other"), start, n),
        }
        drum_lag = onset_lag(stems["drums"].mean(axis=1),
                             kit_hit_times(groups["drums"], start, duration))
        stems["vocals"] = render_vocals(plan["sung"], n, workdir, drum_lag)
    for group, gain in GROUP_GAIN.items():
        stems[group] *= gain
    accomp = stems["drums"] + stems["bass"] + stems["other"]
    ratio = vocal_to_accompaniment_db(stems["vocals"], accomp)
    stems["vocals"] *= 10 ** ((VOCAL_TO_ACCOMP_DB - ratio) / 20)
    return stems


def quantise(stems, peak_dbfs=MIX_PEAK_DBFS):
    """Scale all stems by one common gain and convert them to int16.

    The gain puts the peak of the summed mixture at `peak_dbfs`; the mixture
    is then the integer sum of the int16 stems, so it equals their sum exactly.
    """
    peak = np.abs(sum(stems.values())).max()
    gain = 10 ** (peak_dbfs / 20) * 32767 / peak
    ints = {k: np.round(v * gain).astype(np.int32) for k, v in stems.items()}
    ints["mixture"] = sum(ints[k] for k in STEMS)
    for k, v in ints.items():
        assert np.abs(v).max() <= 32767, f"{k} would clip"
    return {k: v.astype(np.int16) for k, v in ints.items()}


def build(out, duration):
    """Build every track into `out`."""
    kit = DrumKit()
    for song in SONGS:
        folder = Path(out) / song.subset / song.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, audio in quantise(build_track(song, duration, kit)).items():
            sf.write(folder / f"{name}.flac", audio, SR, subtype="PCM_16",
                     compression_level=1.0)
        print(f"built {song.subset}/{song.name}")


def build_whole_songs(out, subset="train"):
    """Render the songs of `subset` from start to end into `out` as WAV, MUSDB18's decoded layout.

    Not bundled (17.5 minutes of music, 442 MB of WAV): more training music from the same songs
    for experiments (scripts/train_*.py --train-root; notebook 07, exercise 4). The test songs
    are never rendered.
    Songs already in `out` are kept, so an interrupted build resumes.
    """
    kit = DrumKit()
    for song in (s for s in SONGS if s.subset == subset):
        folder = Path(out) / subset / song.name
        if folder.is_dir():
            print(f"kept {subset}/{song.name} (already built)")
            continue
        end = pretty_midi.PrettyMIDI(str(MIDI_DIR / song.file)).get_end_time()
        duration = np.floor(end * SR) / SR
        partial = folder.with_name(folder.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        for name, audio in quantise(build_track(song, duration, kit, start=0.0)).items():
            sf.write(partial / f"{name}.wav", audio, SR, subtype="PCM_16")
        partial.replace(folder)
        print(f"built {subset}/{song.name}: {duration:.1f} s", flush=True)


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

def checksums(root):
    """sha256 of every file under root, keyed by relative path."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def dbfs(x):
    """RMS level in dB relative to int16 full scale."""
    return 20 * np.log10(np.sqrt(np.mean(np.square(x / 32768.0))) + 1e-12)


def vocal_activity(vocals, frame=2048, hop=512):
    """Frames (bool) where the vocal RMS is within 40 dB of its loudest frame."""
    rms = librosa.feature.rms(y=vocals.mean(axis=1), frame_length=frame, hop_length=hop)[0]
    return rms > 10 ** (-40 / 20) * rms.max()


def vocal_to_accompaniment_db(vocals, accomp, frame=2048, hop=512):
    """Vocal-to-accompaniment energy ratio (dB) over the vocal-active frames."""
    active = vocal_activity(vocals, frame, hop)
    energy = [librosa.feature.rms(y=x.mean(axis=1), frame_length=frame,
                                  hop_length=hop)[0][active] ** 2
              for x in (vocals, accomp)]
    return 10 * np.log10(energy[0].sum() / energy[1].sum())


def track_numbers(audio):
    """Level statistics of one track, given {name: int16 array (samples, 2)}."""
    ints = {k: v.astype(np.int64) for k, v in audio.items()}
    floats = {k: v.astype(float) for k, v in ints.items()}
    accomp = floats["drums"] + floats["bass"] + floats["other"]
    return {
        "samples": len(ints["mixture"]),
        "sum_err": int(np.abs(ints["mixture"] - sum(ints[k] for k in STEMS)).max()),
        **{f"{k}_db": dbfs(ints[k]) for k in STEMS + ("mixture",)},
        "voc_acc_db": vocal_to_accompaniment_db(floats["vocals"], accomp),
        "voc_silent": 1.0 - vocal_activity(floats["vocals"]).mean(),
        "peak_db": 20 * np.log10(np.abs(ints["mixture"]).max() / 32768.0),
        "lengths_equal": len({len(v) for v in ints.values()}) == 1,
    }


def onset_alignment_ms(audio, times):
    """Compare detected onsets of `audio` (samples, 2) with score onset `times` (s).

    Returns (lag, error) in ms: `lag` from onset_lag (positive: audio late),
    `error` the median distance from each score onset to the nearest detected
    (backtracked) onset.
    """
    y = audio.astype(np.float32).mean(axis=1)
    onsets = librosa.onset.onset_detect(y=y, sr=SR, hop_length=64, units="time",
                                        backtrack=True)
    error = 1000 * np.median([np.min(np.abs(onsets - t)) for t in times])
    return 1000 * onset_lag(y, times), error


def pitch_errors_cents(vocals, sung, count=5, min_length=0.25):
    """pyin median f0 minus intended pitch (cents) for up to `count` of the
    longest sung notes that last at least `min_length` s.

    pyin's pitch grid has 10-cent steps, so errors below that read as 0-10.
    """
    y = vocals.astype(np.float32).mean(axis=1)
    errors = []
    longest = sorted(sung, key=lambda n: n[0] - n[1])[:count]
    for s, e, p in [n for n in longest if n[1] - n[0] >= min_length]:
        seg = y[int((s + 0.08) * SR):int((e - 0.03) * SR)]
        f0, voiced, _ = librosa.pyin(seg, fmin=60, fmax=800, sr=SR,
                                     frame_length=1024, hop_length=128)
        if voiced.any():
            f0 = np.median(f0[voiced])
            errors.append(1200 * np.log2(f0 / pretty_midi.note_number_to_hz(p)))
    return errors


def verify(out, duration):
    """Print the per-track checks and load the data with musdb; return the rows."""
    import musdb
    print(f"{'track':38s} {'set':5s} {'start':>6s} {'sumerr':>6s} {'voc':>6s} "
          f"{'drums':>6s} {'bass':>6s} {'other':>6s} {'mix':>6s} {'V/A':>5s} "
          f"{'silent':>6s} {'peak':>5s} {'v_lag':>5s} {'v_err':>5s} {'d_lag':>5s} "
          f"{'d_err':>5s} pitch error of long notes (cents)")
    rows = []
    for song in SONGS:
        folder = Path(out) / song.subset / song.name
        plan = plan_track(song, duration)
        audio = {k: sf.read(folder / f"{k}.flac", dtype="int16")[0]
                 for k in STEMS + ("mixture",)}
        m = track_numbers(audio)
        kit_hits = kit_hit_times(plan["groups"]["drums"], plan["start"], duration)
        m.update(start=plan["start"],
                 vocal_onset=onset_alignment_ms(audio["vocals"], [s for s, _, _ in plan["sung"]]),
                 drum_onset=onset_alignment_ms(audio["drums"], kit_hits),
                 pitch_cents=pitch_errors_cents(audio["vocals"], plan["sung"]))
        assert m["sum_err"] == 0 and m["lengths_equal"]
        rows.append((song, m))
        print(f"{song.name:38s} {song.subset:5s} {m['start']:6.2f} {m['sum_err']:6d} "
              f"{m['vocals_db']:6.1f} {m['drums_db']:6.1f} {m['bass_db']:6.1f} "
              f"{m['other_db']:6.1f} {m['mixture_db']:6.1f} {m['voc_acc_db']:5.1f} "
              f"{m['voc_silent']:6.2f} {m['peak_db']:5.1f} "
              f"{m['vocal_onset'][0]:5.1f} {m['vocal_onset'][1]:5.1f} "
              f"{m['drum_onset'][0]:5.1f} {m['drum_onset'][1]:5.1f} "
              f"{' '.join(f'{c:+.0f}' for c in m['pitch_cents'])}")
    with tempfile.TemporaryDirectory() as tmp:
        for flac in Path(out).rglob("*.flac"):
            wav = Path(tmp) / flac.relative_to(out).with_suffix(".wav")
            wav.parent.mkdir(parents=True, exist_ok=True)
            data, rate = sf.read(flac, dtype="int16")
            sf.write(wav, data, rate, subtype="PCM_16")
        for subset, expected in (("train", 8), ("test", 4)):
            tracks = musdb.DB(root=tmp, is_wav=True, subsets=subset).tracks
            assert len(tracks) == expected, (subset, len(tracks))
            for track in tracks:
                shapes = {k: t.audio.shape for k, t in track.targets.items()}
                assert track.rate == SR and all(v[1] == 2 for v in shapes.values())
            print(f"musdb {subset}: {len(tracks)} tracks, targets "
                  f"{sorted(tracks[0].targets)}, vocals shape "
                  f"{tracks[0].targets['vocals'].audio.shape}, rate {tracks[0].rate}")
    size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    print(f"total size {size} bytes ({size / 1e6:.2f} MB)")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/musdb", help="output folder")
    parser.add_argument("--seconds", type=float, default=EXCERPT_SECONDS,
                        help="excerpt length in seconds")
    parser.add_argument("--verify", action="store_true",
                        help="only print level, alignment and pitch checks of --out")
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temp dir and compare checksums with --out")
    parser.add_argument("--whole-songs", action="store_true",
                        help="render the training songs whole, as WAV (more music for the training scripts' "
                             "--train-root; e.g. --out .cache/musdb_whole)")
    args = parser.parse_args()

    if args.whole_songs:
        build_whole_songs(args.out)
        return

    if args.verify:
        verify(args.out, args.seconds)
        return
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(tmp, args.seconds)
            same = checksums(tmp) == checksums(args.out)
        print("rebuild identical:", same)
        raise SystemExit(0 if same else 1)

    for subset in ("train", "test"):
        shutil.rmtree(Path(args.out) / subset, ignore_errors=True)
    build(args.out, args.seconds)


if __name__ == "__main__":
    main()
