"""Render a large, varied multitrack training set (MUSDB18 decoded layout) and the bundled unseen test set.

The songs are human-composed multitrack MIDI files from Debian packages; each is rendered one stem at a time
with the tools of build_music.py (FluidSynth soundfonts, Hydrogen drum-kit samples, Festival singing the lead
line), but every rendition draws its own sound from a seeded random plan: tempo (x0.85-1.15), transposition
(-3..+3 semitones for every pitched part), General MIDI soundfont (TimGM6mb, FluidR3_GM, MuseScore_General_Lite),
drum kit (ten Hydrogen kits with their GM notes mapped by name, two AVL drum soundfonts, or the soundfont's own
kits), singer (five Festival diphone voices in English, Czech and Finnish, male and female, each in a drawn
register, or a soundfont's choir/voice patch), instrument programs (half of the instruments swapped for another
of their General MIDI family), stem levels (+-6 dB), vocal-to-accompaniment ratio (-6..+3 dB), pans and the
mixture's peak level. The excerpt (60 s, or the whole song when shorter) starts at a drawn downbeat.

Training/validation output (git-ignored, default .cache/rendered_music), 22050 Hz stereo 16-bit WAV::

    OUT/train/<Artist - Title (variant k)>/{mixture,drums,bass,other,vocals}.wav
    OUT/valid/<Artist - Title (variant k)>/{...}.wav

Read it with musdb.DB(root=OUT, subsets="train", is_wav=True) (and subsets="valid"). The unseen test set
(--unseen) uses MIDI files, a soundfont, a drum kit and a singer that no training or validation rendition uses,
5.0-s excerpts chosen by build_music.choose_excerpt, written as FLAC like data/musdb::

    data/musdb_unseen/test/<Artist - Title>/{mixture,drums,bass,other,vocals}.flac

The MIDI files of data/musdb's four test songs are never rendered. Every mixture is the integer sum of its four
int16 stems. Songs are written to NAME.partial and renamed when complete; complete songs are kept, so an
interrupted render resumes.

Usage::

    python data/build/render_training_set.py                     # train + valid into .cache/rendered_music
    python data/build/render_training_set.py --list              # the plan: songs x variants and their settings
    python data/build/render_training_set.py --survey            # every MIDI file: usable? lead chosen?
    python data/build/render_training_set.py --unseen --out data/musdb_unseen           # the bundled unseen set
    python data/build/render_training_set.py --unseen --out data/musdb_unseen --check   # rebuild, compare sha256
"""

import argparse
import copy
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_music as bm  # noqa: E402  (the rendering tools; pretty_midi is imported there when installed)

SR = bm.SR
OPENMSX = bm.MIDI_DIR                                  # Debian openttd-openmsx, GPL-2
BLUPI = Path("/usr/share/planetblupi/music")           # Debian planetblupi-music-midi, GPL-3+
DEFAULT_OUT = Path(".cache/rendered_music")
SECONDS = 60.0          # length of a training/validation rendition (s); shorter songs are rendered whole
UNSEEN_SECONDS = 5.0    # 3 songs x 7 s would take data/ over its 25 MB budget; 3 x 5 s fit
PREROLL = 2.0           # s of score rendered before an excerpt so that notes sound in naturally
MIN_NOTE = 0.025        # s: no note is written shorter (a note-on and -off on one tick leaves the note hanging)
FLUIDSYNTH_TIMEOUT = 600  # s per FluidSynth call: a runaway render fails its rendition instead of filling the disk
DEFAULT_VARIANTS = 7    # renditions per training song: 21 songs x 7 x ~60 s = about 2.4 hours
VALID_VARIANTS = 2

# ----------------------------------------------------------------------------------------------------------
# Songs
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A multitrack MIDI song and the subset its renditions go to."""
    path: Path         # the MIDI file
    artist: str
    title: str
    subset: str        # "train", "valid" or "unseen"
    lead: tuple = ()   # pretty_midi instrument indices playing the sung line; () = chosen by choose_lead

    @property
    def name(self):
        return f"{self.artist} - {self.title}"

    @property
    def file(self):    # build_music's functions name a song by its file
        return self.path.name


def _catalogue():
    bundled_train = [Source(OPENMSX / s.file, s.artist, s.title, "train", s.lead)
                     for s in bm.SONGS if s.subset == "train"]
    more = [  # openttd-openmsx: composers from its readme.txt, titles from openmsx.obm
        ("5432gone_redfarn.mid", "Jim Redfarn", "5 4 3 2 .. Gone", "train"),
        ("chuggachugga.mid", "imuh3", "Chugga Chugga Cha-ching", "train"),
        ("coconut_run2.mid", "Tistou Blomberg", "Coconut Run 2", "train"),
        ("linns_basket.mid", "Tistou Blomberg", "Linn's Basket of Treats", "train"),
        ("run_for_your_life.mid", "Tistou Blomberg", "Excitement! Run for Your Life", "train"),
        ("ttsong_iv_imuh3.mid", "imuh3", "Downtown Cab Ride", "train"),
        ("ultimate_run.mid", "Tistou Blomberg", "Ultimate Run", "train"),
        ("the_hobo_redfarn.mid", "Jim Redfarn", "The Hobo", "valid"),
        ("flying_scotsman.mid", "imuh3", "Unidentified Flying Scotsman", "valid"),
        ("mighty_giant_run.mid", "Tistou Blomberg", "Mighty Giant Run", "valid"),
        ("tttheme2.mid", "lucas", "OpenTTD Journey", "unseen"),   # "-lucas-" in readme.txt
    ]
    blupi = {0: "train", 1: "train", 2: "train", 4: "train", 5: "train", 8: "train",
             6: "valid", 7: "unseen", 3: "unseen"}
    return tuple(bundled_train
                 + [Source(OPENMSX / f, a, t, s) for f, a, t, s in more]
                 + [Source(BLUPI / f"music{k:03d}.mid", "Planet Blupi", f"music{k:03d}", s) for k, s in blupi.items()])


SOURCES = _catalogue()
# Files left out, and why (python data/build/render_training_set.py --survey shows the numbers).
EXCLUDED = {
    **{s.file: "a test song of data/musdb" for s in bm.SONGS if s.subset == "test"},
    **{f: "no bass instrument (GM 33-40)" for f in (
        "boogi_marabi_redfarn.mid", "city_blues_redfarn.mid", "mosey_along_redfarn.mid", "moo_redfarn.mid",
        "harp_harmony.mid", "wood_whistles.mid", "relax_song.mid", "music009.mid")},
    "chemistry_lab.mid": "no drums and no bass instrument",
}
# The unseen songs in the order they are bundled: as many as fit data/'s 25 MB budget.
UNSEEN_ORDER = ("tttheme2.mid", "music007.mid", "music003.mid")

# ----------------------------------------------------------------------------------------------------------
# Sounds: soundfonts, drum kits, singers
# ----------------------------------------------------------------------------------------------------------

SOUNDFONTS = {   # training soundfonts
    "TimGM6mb": bm.SOUNDFONT,                                             # pretty_midi wheel, GPL-2
    "FluidR3_GM": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),           # fluid-soundfont-gm, MIT
    "MuseScore_General_Lite": Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),  # ...-small, MIT
}
UNSEEN_SOUNDFONTS = {"sf_GMbank": Path("/usr/share/sounds/sf2/sf_GMbank.sf2")}  # csound-soundfont, public domain

HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")   # hydrogen-data, hydrogen-drumkits
HYDROGEN_KITS = ("GMRockKit", "TR808EmulationKit", "The Black Pearl 1.0", "ForzeeStereo", "Millo_MultiLayered2",
                 "Millo-Drums_v.1", "Audiophob", "BJA_Pacific", "ElectricEmpireKit", "HardElectro1")
UNSEEN_HYDROGEN_KITS = ("ColomboAcousticDrumkit",)
AVL_KITS = {   # avldrums.lv2-soundfont (GPL-2+): one drum kit each, GM drum notes on bank 0 program 0
    "Black_Pearl_4_LV2": Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"),
    "Red_Zeppelin_4_LV2": Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"),
}
GM_DRUM_KITS = {0: "Standard", 8: "Room", 16: "Power", 24: "Electronic", 25: "TR-808", 32: "Jazz", 40: "Brush"}

_EN = bm.LYRICS
# Words in the voices' languages, each starting with a consonant (see build_music.LYRICS).
_CS = ("ja tam mam dum les kde den noc je sen pes kos most hrad vlak jel dal ty jsi ma hvezda zlata "
       "zpivam ti ted dnes").split()
_FI = ("kuu ja tie vie maa puu suo soi jos sun kans mun tuo tuuli lyo kai saa jaa").split()
# Festival's singing mode crashes on notes from C5 (MIDI 72) up, with every voice: sung notes stay <= 71.
# name: (Festival command, lyrics, (lowest, highest) top of the median's octave window, (lowest, highest) sung)
VOICES = {
    "kal": ("voice_kal_diphone", _EN, (58, 64), (43, 67)),            # festvox-kallpc16k, US English male
    "ked": ("voice_ked_diphone", _EN, (57, 63), (43, 67)),            # festvox-kdlpc16k, US English male
    "machac": ("voice_czech_machac", _CS, (57, 64), (43, 67)),        # festvox-czech-machac, Czech male
    "mv": ("voice_hy_fi_mv_diphone", _FI, (57, 64), (43, 67)),        # festvox-suopuhe-mv, Finnish male
    "lj": ("voice_suo_fi_lj_diphone", _FI, (65, 69), (52, 71)),       # festvox-suopuhe-lj, Finnish female
    "choir:52": (None, None, (62, 72), (48, 81)),                     # the soundfont's Choir Aahs
    "choir:53": (None, None, (62, 72), (48, 81)),                     # Voice Oohs
    "choir:54": (None, None, (62, 72), (48, 81)),                     # Synth Voice
}
UNSEEN_VOICES = {"dita": ("voice_czech_dita", _CS, (65, 69), (52, 71))}   # festvox-czech-dita, Czech female
FESTIVAL_VOICES = ("kal", "ked", "machac", "mv", "lj")

# GM drum note -> regular expressions for a Hydrogen instrument name, tried in order.
_GM_DRUM_NAMES = {
    35: [r"kick|bass ?drum"], 36: [r"kick|bass ?drum"],
    37: [r"stick|rim ?click"], 38: [r"^(?!.*(roll|rim)).*snare"],
    40: [r"snare 2|snare rock", r"^(?!.*(roll|rim)).*snare"],
    39: [r"clap"], 41: [r"floor|tom low|low tom"], 43: [r"floor|tom low|low tom"],
    45: [r"tom 2|tom mid|mid(dle)? tom|^tom$"], 47: [r"tom 2|tom mid|mid(dle)? tom|^tom$"],
    48: [r"tom 1|tom hi|high tom|tom high"], 50: [r"tom 1|tom hi|high tom|tom high"],
    42: [r"(hat|hh).*clos|clos.*(hat|hh)|hat 1 cl|hat closed"],
    44: [r"pedal|hat 1 pd", r"(hat|hh).*clos|clos.*(hat|hh)"],
    46: [r"(hat|hh).*open|open.*(hat|hh)|hat 1 op|hat op"], 49: [r"^(?!.*bell).*crash", r"cymbal"],
    57: [r"^(?!.*bell).*crash", r"cymbal"],
    51: [r"^(?!.*(bell|cup)).*ride", r"^(?!.*bell).*crash|cymbal"], 59: [r"^(?!.*(bell|cup)).*ride", r"cymbal"],
    53: [r"^(?!.*cow).*(bell|cup)"], 55: [r"splash", r"^(?!.*bell).*crash"], 56: [r"cowbell"], 54: [r"tambourine"],
}


def kit_gm_map(instrument_names):
    """Map General MIDI drum notes to a Hydrogen kit's instruments by their names.

    Each GM note tries its patterns in order (e.g. a pedal hat falls back to the closed hat); among the names
    that match, the first in the kit's list wins. Notes that match nothing are played by the soundfont.

    Args:
        instrument_names: the kit's instrument names, in drumkit.xml's order.
    Returns:
        {GM note: instrument name}.
    """
    mapping = {}
    for note, patterns in _GM_DRUM_NAMES.items():
        for pattern in patterns:
            hit = next((n for n in instrument_names if re.search(pattern, n.lower())), None)
            if hit:
                mapping[note] = hit
                break
    return mapping


# ----------------------------------------------------------------------------------------------------------
# The plan: one seeded draw of settings per rendition (pure: needs no MIDI file and no renderer)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendition:
    """The drawn settings of one rendition of a song."""
    source: Source
    subset: str
    variant: int            # None for the unseen set
    seed: int
    seconds: float          # output length (shorter songs are rendered whole)
    position: float         # where in the song the excerpt starts, as a fraction of the possible starts
    tempo: float            # playback speed factor (1.1 = 10 % faster)
    transpose: int          # semitones, all pitched parts
    soundfont: str
    drums: str              # "hydrogen:<kit>", "avl:<kit>" or "gm:<bank-128 program>" of the soundfont
    voice: str
    register: int           # the sung line's median lies in MIDI register-11 .. register
    gains_db: tuple         # (drums, bass, other) relative to build_music.GROUP_GAIN
    vocal_to_accomp_db: float
    vocal_pan: float
    bass_pan: float
    peak_dbfs: float

    @property
    def name(self):
        if self.variant is None:
            return self.source.name
        return f"{self.source.name} (variant {self.variant})"


def rendition_seed(seed, subset, source, variant):
    """A 64-bit seed from the global seed, the subset, the MIDI file and the variant."""
    text = f"{seed}:{subset}:{source.file}:{variant}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def draw_rendition(source, subset, variant, seed):
    """Draw the settings of one rendition (deterministic for its arguments)."""
    s = rendition_seed(seed, subset, source, variant)
    rng = np.random.default_rng(s)
    unseen = subset == "unseen"
    fonts = sorted(UNSEEN_SOUNDFONTS if unseen else SOUNDFONTS)
    font = fonts[rng.integers(len(fonts))]
    if unseen:
        drums = "hydrogen:" + UNSEEN_HYDROGEN_KITS[rng.integers(len(UNSEEN_HYDROGEN_KITS))]
        voices = sorted(UNSEEN_VOICES)
    else:
        kind = rng.random()
        if kind < 0.5:
            drums = "hydrogen:" + HYDROGEN_KITS[rng.integers(len(HYDROGEN_KITS))]
        elif kind < 0.7:
            drums = "avl:" + sorted(AVL_KITS)[rng.integers(len(AVL_KITS))]
        else:
            drums = f"gm:{sorted(GM_DRUM_KITS)[rng.integers(len(GM_DRUM_KITS))]}"
        voices = (list(FESTIVAL_VOICES) if rng.random() < 0.8
                  else [v for v in VOICES if v.startswith("choir:")])
    voice = voices[rng.integers(len(voices))]
    low, high = {**VOICES, **UNSEEN_VOICES}[voice][2]
    return Rendition(
        source=source, subset=subset, variant=None if unseen else variant, seed=s,
        seconds=UNSEEN_SECONDS if unseen else SECONDS, position=float(rng.random()),
        tempo=round(float(rng.uniform(0.85, 1.15)), 3), transpose=int(rng.integers(-3, 4)),
        soundfont=font, drums=drums, voice=voice, register=int(rng.integers(low, high + 1)),
        gains_db=tuple(round(float(g), 1) for g in rng.uniform(-6, 6, 3)),
        vocal_to_accomp_db=round(float(rng.uniform(-6, 3)), 1),
        vocal_pan=round(float(rng.uniform(-0.3, 0.3)), 2), bass_pan=round(float(rng.uniform(-0.15, 0.15)), 2),
        peak_dbfs=round(float(rng.uniform(-9, -3)), 1))


def plan(seed=0, variants=DEFAULT_VARIANTS, valid_variants=VALID_VARIANTS, unseen=False, unseen_songs=None):
    """Every rendition to make, in render order.

    Training and validation: validation songs first, then variant 0 of every training song, then variant 1, ...
    (an interrupted render has the same number of renditions of every song). Unseen: one rendition per song of
    UNSEEN_ORDER (the first `unseen_songs` of them).
    """
    by_file = {s.file: s for s in SOURCES}
    if unseen:
        files = UNSEEN_ORDER[:unseen_songs]
        return [draw_rendition(by_file[f], "unseen", 0, seed) for f in files]
    out = [draw_rendition(s, "valid", k, seed) for k in range(valid_variants) for s in SOURCES if s.subset == "valid"]
    return out + [draw_rendition(s, "train", k, seed) for k in range(variants) for s in SOURCES if s.subset == "train"]


def describe(r):
    """One line of --list."""
    gains = "/".join(f"{g:+.1f}" for g in r.gains_db)
    return (f"{r.subset:6s} {r.name:58s} tempo x{r.tempo:.3f} transpose {r.transpose:+d} pos {r.position:.2f} "
            f"| {r.soundfont:22s} | drums {r.drums:30s} | voice {r.voice:8s} reg {r.register} "
            f"| dB d/b/o {gains} V/A {r.vocal_to_accomp_db:+.1f} peak {r.peak_dbfs:.1f} "
            f"| pan v {r.vocal_pan:+.2f} b {r.bass_pan:+.2f}")


# ----------------------------------------------------------------------------------------------------------
# Score: lead choice, excerpt window, cropping and variation
# ----------------------------------------------------------------------------------------------------------

LEAD_EXCLUDED_PROGRAMS = range(112, 128)   # percussive and sound-effect programs never sing


def choose_lead(pm, min_share=0.5):
    """Choose the instrument whose line is sung: the highest line among the well-covering ones.

    For every non-drum, non-bass instrument (programs 112-127 left out) its top line (build_music.lead_line)
    is measured: coverage, the fraction of the song's 1-s bins in which the line sounds, and its median pitch.
    Among the instruments that cover at least `min_share` of the best coverage, the one with the highest
    median pitch wins (ties: the better coverage, then the lower index). On data/musdb's 12 hand-picked songs
    this agrees with 10 of the 12 choices.

    Args:
        pm: a pretty_midi.PrettyMIDI score.
    Returns:
        a one-element tuple with the instrument's index, or () when no instrument qualifies.
    """
    end = pm.get_end_time()
    stats = []
    for i, inst in enumerate(pm.instruments):
        if bm.group_of(inst) != "other" or inst.program in LEAD_EXCLUDED_PROGRAMS or not inst.notes:
            continue
        line = bm.lead_line(pm, (i,))
        if line:
            notes = [bm.pretty_midi.Note(100, p, s, e) for s, e, p in line]
            stats.append((bm.coverage(notes, 0.0, end), float(np.median([p for *_, p in line])), i))
    if not stats:
        return ()
    best = max(c for c, _, _ in stats)
    _, _, negative_index = max((m, c, -i) for c, m, i in stats if c >= min_share * best)
    return (-negative_index,)


def crop(pm, t0, t1, tempo=1.0, origin=None):
    """A copy of `pm` with only [t0, t1) of the score, times measured from `origin` (default t0) / `tempo`.

    Notes that overlap the window are cut to it: a cut note shorter than MIN_NOTE is dropped, any other note
    lasts at least MIN_NOTE (FluidSynth renders forever past a note whose on and off fall on one tick). The last
    controller value (per controller) and pitch bend before t0 are moved to t0, so instruments keep their
    volume, pan and sustain. The copy shares the tempo map of `pm` (pretty_midi uses it only to convert seconds
    to ticks when writing).
    """
    origin = t0 if origin is None else origin

    def at(t):
        return (max(t, t0) - origin) / tempo

    out = copy.copy(pm)
    out.instruments = []
    for inst in pm.instruments:
        new = bm.pretty_midi.Instrument(inst.program, inst.is_drum, inst.name)
        for n in inst.notes:
            start, end = max(n.start, t0), min(n.end, t1)
            if end > start and (end - start >= MIN_NOTE or t0 <= n.start and n.end <= t1):
                new.notes.append(bm.pretty_midi.Note(n.velocity, n.pitch, at(start),
                                                     max(at(end), at(start) + MIN_NOTE)))
        last_cc = {c.number: c for c in inst.control_changes if c.time <= t0}   # the last one per controller
        last_bend = [b for b in inst.pitch_bends if b.time <= t0][-1:]
        new.control_changes = [bm.pretty_midi.ControlChange(c.number, c.value, at(c.time))
                               for c in list(last_cc.values()) + [c for c in inst.control_changes if t0 < c.time < t1]]
        new.pitch_bends = [bm.pretty_midi.PitchBend(b.pitch, at(b.time))
                           for b in last_bend + [b for b in inst.pitch_bends if t0 < b.time < t1]]
        out.instruments.append(new)
    return out


def choose_window(pm, song, line, length, position, tries=24):
    """Excerpt start (s, a downbeat) for a rendition, near `position` (0-1) of the possible starts.

    A start qualifies when the sung notes fill at least 15 % of the excerpt and drums and bass each sound in at
    least half of its 1-s bins; candidates are tried from `position` on (cyclically), the first that qualifies
    wins, else the best of `tries`. A song shorter than `length` is rendered whole.

    Returns:
        (start, length) in score seconds.
    """
    end = pm.get_end_time()
    downbeats = pm.get_downbeats()
    if end <= length + 1.0:
        return 0.0, float(np.floor(end * 10) / 10)
    starts = downbeats[downbeats + length <= end]
    first = int(position * len(starts))
    group_notes = {g: [n for inst in pm.instruments if bm.group_of(inst) == g for n in inst.notes]
                   for g in ("drums", "bass")}
    best = None
    for k in range(min(tries, len(starts))):
        start = float(starts[(first + k) % len(starts)])
        sung = bm.sung_notes(line, downbeats, start, length)
        score = min(sum(e - s for s, e, _ in sung) / length / 0.15,
                    *(bm.coverage([n for n in notes if n.end > start and n.start < start + length],
                                  start, length) / 0.5 for notes in group_notes.values()))
        if best is None or score > best[0]:
            best = (score, start)
        if score >= 1.0:
            break
    return best[1], length


def vary_groups(groups, rendition, rng):
    """Transpose, swap programs within their GM family and pan the cropped instrument groups (in place)."""
    for group, score in groups.items():
        for inst in score.instruments:
            if inst.is_drum:
                continue
            for note in inst.notes:
                note.pitch = int(np.clip(note.pitch + rendition.transpose, 0, 127))
            family = inst.program // 8
            if rng.random() < 0.5 and family < 14:        # not the percussive / sound-effect families
                inst.program = int(family * 8 + rng.integers(8))
            pan = rendition.bass_pan if group == "bass" else float(rng.uniform(-0.8, 0.8))
            inst.control_changes = [c for c in inst.control_changes if c.number != 10]
            inst.control_changes.insert(0, bm.pretty_midi.ControlChange(10, int(round(64 + 63 * pan)), 0.0))


# ----------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------

def soundfont_path(name):
    return {**SOUNDFONTS, **UNSEEN_SOUNDFONTS}[name]


def render_drum_stem(drums_pm, rendition, kits, start, seconds, workdir):
    """The drum stem and the score times of its hits (for build_music.onset_lag)."""
    n = int(round(seconds * SR))
    kind, _, which = rendition.drums.partition(":")
    font = soundfont_path(rendition.soundfont)
    if kind == "hydrogen":
        if which not in kits:
            kit = bm.DrumKit(HYDROGEN / which)
            kits[which] = (kit, kit_gm_map(list(kit.instruments)))
        kit, gm_map = kits[which]
        audio = bm.render_drums(drums_pm, kit, start, n, workdir, gm_map=gm_map, soundfont=font)
    else:
        score = copy.deepcopy(drums_pm)
        gm_map = range(128)
        for inst in score.instruments:
            if kind == "avl":             # the AVL kits sit on bank 0 program 0: play them as a melodic part
                inst.is_drum, inst.program = False, 0
            else:
                inst.program = int(which)
        audio = bm.cut(bm.render_soundfont(score, workdir, "drums", AVL_KITS[which] if kind == "avl" else font,
                                           timeout=FLUIDSYNTH_TIMEOUT), start, n)
    return audio, bm.kit_hit_times(drums_pm, start, seconds, gm_map=gm_map)


def render_vocal_stem(sung, rendition, drum_lag, seconds, workdir):
    """The vocal stem: Festival singing, or the soundfont's choir patch playing the line."""
    n = int(round(seconds * SR))
    command, lyrics, _, _ = {**VOICES, **UNSEEN_VOICES}[rendition.voice]
    if command:
        return bm.render_vocals(sung, n, workdir, drum_lag, voice=command, lyrics=lyrics, pan=rendition.vocal_pan)
    score = bm.pretty_midi.PrettyMIDI(initial_tempo=120.0, resolution=960)
    inst = bm.pretty_midi.Instrument(program=int(rendition.voice.split(":")[1]))
    inst.notes = [bm.pretty_midi.Note(100, p, s, e) for s, e, p in sung]
    inst.control_changes = [bm.pretty_midi.ControlChange(10, int(round(64 + 63 * rendition.vocal_pan)), 0.0)]
    score.instruments = [inst]
    return bm.cut(bm.render_soundfont(score, workdir, "choir", soundfont_path(rendition.soundfont),
                                      timeout=FLUIDSYNTH_TIMEOUT), 0.0, n)


def render(rendition, kits):
    """Render one rendition: {stem: float array (samples, 2)} before quantisation, and a summary dict."""
    source = rendition.source
    pm = bm.pretty_midi.PrettyMIDI(str(source.path))
    song = replace(source, lead=source.lead or choose_lead(pm))
    rng = np.random.default_rng(rendition.seed + 1)
    line = bm.lead_line(pm, song.lead)
    length = rendition.seconds * rendition.tempo          # score seconds
    if rendition.subset == "unseen":
        start = bm.choose_excerpt(crop(pm, 0.0, 240.0), song, length)   # the first 4 minutes suffice
    else:
        start, length = choose_window(pm, song, line, length, rendition.position)
    seconds = round(length / rendition.tempo * SR) / SR
    sung = bm.sung_notes(line, pm.get_downbeats(), start, length)
    t0, t1 = start - PREROLL * rendition.tempo, start + length
    window = crop(pm, t0, t1, origin=0.0)                 # score times kept: the sung notes still match
    groups = {g: crop(score, t0, t1, rendition.tempo) for g, score in bm.split_groups(window, song, sung).items()}
    vary_groups(groups, rendition, rng)
    low, high = {**VOICES, **UNSEEN_VOICES}[rendition.voice][3]
    shift = bm.vocal_transpose([(s, e, p + rendition.transpose) for s, e, p in line], highest=rendition.register)
    sung = [((s - start) / rendition.tempo, (e - start) / rendition.tempo,
             bm.fold_to_voice(p + rendition.transpose + shift, low, high)) for s, e, p in sung]
    font = soundfont_path(rendition.soundfont)
    n = int(round(seconds * SR))
    with tempfile.TemporaryDirectory() as workdir:
        drums, hits = render_drum_stem(groups["drums"], rendition, kits, PREROLL, seconds, workdir)
        stems = {"drums": drums,
                 **{g: bm.cut(bm.render_soundfont(groups[g], workdir, g, font, timeout=FLUIDSYNTH_TIMEOUT),
                              PREROLL, n) for g in ("bass", "other")}}
        drum_lag = bm.onset_lag(drums.mean(axis=1), hits) if hits else 0.015
        stems["vocals"] = render_vocal_stem(sung, rendition, drum_lag, seconds, workdir)
    for (group, gain), db in zip(bm.GROUP_GAIN.items(), rendition.gains_db):
        stems[group] *= gain * 10 ** (db / 20)
    if np.abs(stems["vocals"]).max() > 0:
        accomp = stems["drums"] + stems["bass"] + stems["other"]
        ratio = bm.vocal_to_accompaniment_db(stems["vocals"], accomp)
        stems["vocals"] *= 10 ** ((rendition.vocal_to_accomp_db - ratio) / 20)
    return stems, {"start": start, "seconds": seconds, "lead": song.lead, "sung_notes": len(sung)}


def write_rendition(rendition, out, kits, suffix):
    """Render into OUT/subset/NAME.partial, then rename to NAME. Returns the summary, or None if it existed."""
    subset = "test" if rendition.subset == "unseen" else rendition.subset
    folder = Path(out) / subset / rendition.name
    if folder.is_dir():
        return None
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    stems, info = render(rendition, kits)
    for name, audio in bm.quantise(stems, peak_dbfs=rendition.peak_dbfs).items():
        if suffix == ".flac":
            sf.write(partial / f"{name}.flac", audio, SR, subtype="PCM_16", compression_level=1.0)
        else:
            sf.write(partial / f"{name}.wav", audio, SR, subtype="PCM_16")
    partial.replace(folder)
    return info


def check_tools(renditions):
    """Fail early, with the apt packages to install, when a renderer or a file is missing."""
    missing = [tool for tool in ("fluidsynth", "text2wave") if shutil.which(tool) is None]
    if bm.pretty_midi is None:
        missing.append("the Python package pretty_midi")
    files = {r.source.path for r in renditions} | {soundfont_path(r.soundfont) for r in renditions}
    files |= {HYDROGEN / r.drums.split(":", 1)[1] / "drumkit.xml"
              for r in renditions if r.drums.startswith("hydrogen:")}
    files |= {AVL_KITS[r.drums.split(":", 1)[1]] for r in renditions if r.drums.startswith("avl:")}
    missing += sorted(str(f) for f in files if not Path(f).exists())
    if missing:
        raise SystemExit("missing: " + ", ".join(missing) + "\ninstall with: apt-get install openttd-openmsx "
                         "planetblupi-music-midi hydrogen-data hydrogen-drumkits avldrums.lv2-soundfont fluidsynth "
                         "fluid-soundfont-gm musescore-general-soundfont-small csound-soundfont festival "
                         "festvox-kallpc16k festvox-kdlpc16k festvox-czech-machac festvox-czech-dita "
                         "festvox-suopuhe-mv festvox-suopuhe-lj; pip install pretty_midi")


def render_all(renditions, out, suffix=".wav"):
    """Render every rendition not yet in `out`, one line each, then the totals."""
    check_tools(renditions)
    kits, done, failed, music, t_all = {}, 0, [], 0.0, time.time()
    for k, r in enumerate(renditions, 1):
        t0 = time.time()
        try:
            info = write_rendition(r, out, kits, suffix)
        except (subprocess.SubprocessError, RuntimeError, ValueError) as error:   # one bad rendition, not the run
            print(f"[{k}/{len(renditions)}] FAILED {r.subset}/{r.name}: {error}", flush=True)
            failed.append(r.name)
            continue
        if info is None:
            print(f"[{k}/{len(renditions)}] kept {r.subset}/{r.name} (already rendered)", flush=True)
            continue
        wall = time.time() - t0
        done, music = done + 1, music + info["seconds"]
        print(f"[{k}/{len(renditions)}] {r.subset}/{r.name}: {info['seconds']:.1f} s of music from "
              f"{info['start']:.1f} s, lead {info['lead']}, {info['sung_notes']} sung notes, "
              f"rendered in {wall:.1f} s", flush=True)
    wall = time.time() - t_all
    print(f"total: {done} songs rendered, {music / 60:.1f} minutes of music, wall time {wall / 60:.1f} minutes"
          + (f" ({wall / (music / 60):.1f} s per minute of music)" if music else "")
          + (f"; {len(failed)} failed (run again to retry): {failed}" if failed else ""), flush=True)
    if failed:
        raise SystemExit(1)


def survey():
    """Print, for every MIDI file of the sources, its groups, whether it is used and the lead chosen."""
    for path in sorted(OPENMSX.glob("*.mid")) + sorted(BLUPI.glob("*.mid")):
        pm = bm.pretty_midi.PrettyMIDI(str(path))
        groups = {g: sum(len(i.notes) for i in pm.instruments if bm.group_of(i) == g) for g in ("drums", "bass")}
        used = next((s.subset for s in SOURCES if s.path == path), EXCLUDED.get(path.name, "NOT CATALOGUED"))
        print(f"{path.name:28s} {pm.get_end_time():7.1f} s  drum notes {groups['drums']:6d}  bass notes "
              f"{groups['bass']:6d}  auto lead {choose_lead(pm)}  -> {used}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help=f"output folder (default {DEFAULT_OUT}; "
                                                    "data/musdb_unseen with --unseen)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the plan")
    parser.add_argument("--variants", type=int, default=DEFAULT_VARIANTS, help="renditions per training song")
    parser.add_argument("--valid-variants", type=int, default=VALID_VARIANTS,
                        help="renditions per validation song")
    parser.add_argument("--list", action="store_true", help="print the plan and render nothing")
    parser.add_argument("--survey", action="store_true", help="print which MIDI files are usable")
    parser.add_argument("--unseen", action="store_true", help="render the unseen test set (FLAC, 5-s excerpts)")
    parser.add_argument("--unseen-songs", type=int, default=None, help="how many of UNSEEN_ORDER to render")
    parser.add_argument("--check", action="store_true", help="with --unseen: rebuild in a temp dir, compare")
    args = parser.parse_args()

    if args.survey:
        survey()
        return
    renditions = plan(args.seed, args.variants, args.valid_variants, args.unseen, args.unseen_songs)
    if args.list:
        for r in renditions:
            print(describe(r))
        return
    out = Path(args.out or ("data/musdb_unseen" if args.unseen else DEFAULT_OUT))
    if args.unseen:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                render_all(renditions, tmp, ".flac")
                same = bm.checksums(tmp) == bm.checksums(out)
            print("rebuild identical:", same)
            raise SystemExit(0 if same else 1)
        shutil.rmtree(out / "test", ignore_errors=True)
        render_all(renditions, out, ".flac")
    else:
        render_all(renditions, out, ".wav")


if __name__ == "__main__":
    main()
