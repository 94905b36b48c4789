"""Build full-mode test fixtures shaped like the real datasets, offline, from the bundled sample.

Writes into the git-ignored cache (default ``.cache/fixtures``):

- ``musdb18/{train,test}/<Artist - Title>.stem.mp4``: MUSDB18's stem format (AAC, 44.1 kHz stereo, streams in
  musdb's order mixture, drums, bass, other, vocals). Each stem of a song comes from a different bundled song,
  looped with random offsets and gains and resampled to 44.1 kHz; the mixture is the sum of the stems before AAC
  coding (after coding it differs slightly, as in MUSDB18). The first train songs carry names from musdb's
  validation list, so ``musdb.DB(subsets="train", split="valid")`` finds them.
- ``kaggle_speakers/50_speakers_audio_data/Speaker_NNNN/Speaker_NNNN_MMMMM.wav``: clips of about
  ``--clip-seconds`` built from the bundled speakers' 3-s clips, with the real Kaggle set's quirks: a number
  left out (no Speaker_0002), one folder named like ``Speaker26`` beside the canonical ``Speaker_0026``, two
  sample rates (16 kHz and 44.1 kHz), and some speakers' ``.wav`` files holding MP3 data.

The tree is built in ``<out>.partial-<pid>`` and renamed into place, and a stamp of the arguments makes a
second run with the same arguments a no-op.

    python data/build/build_fixtures.py                                   # 4+2 songs of 180 s, 10 speakers
    python data/build/build_fixtures.py --out /tmp/fx --train-songs 2 --test-songs 1 --seconds 20 \\
        --speakers 8 --clip-seconds 20                                    # the CI size
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from course_utils.audio import load_audio  # noqa: E402
from course_utils.datasets import SPEAKERS_SUBFOLDER  # noqa: E402
from course_utils.runtime import cache_dir, data_dir  # noqa: E402

FORMAT = 1  # bump when the builder's output changes, so that existing fixtures are rebuilt
MUSDB_SR = 44_100
STREAM_ORDER = ("mixture", "drums", "bass", "other", "vocals")  # musdb's stem_ids
SPEAKER_RATES = (16_000, 44_100)
MISSING_NUMBER = 2  # like the real set's missing Speaker_0022
FADE_SECONDS = 0.01  # crossfade between looped pieces, so that the cuts do not click


def musdb_validation_names():
    """The validation track names musdb ships (``musdb/configs/mus.yaml``)."""
    import musdb

    with open(Path(musdb.__file__).parent / "configs" / "mus.yaml") as f:
        return list(yaml.safe_load(f)["validation_tracks"])


def _stamp(args):
    return json.dumps({"format": FORMAT, **{k: v for k, v in sorted(vars(args).items()) if k != "out"}})


# ----------------------------------------------------------------------------------------------
# Music
# ----------------------------------------------------------------------------------------------
def _bundled_stems():
    """{song: {stem: (n, 2) float32 at 44.1 kHz}} for every bundled song (train and test alike)."""
    songs = {}
    for folder in sorted((data_dir() / "musdb").glob("*/*")):
        songs[folder.name] = {stem: load_audio(folder / f"{stem}.flac", sr=MUSDB_SR, mono=False)[0]
                              for stem in STREAM_ORDER[1:]}
    if not songs:
        raise FileNotFoundError(f"No bundled songs in {data_dir() / 'musdb'}: re-clone the repository.")
    return songs


def _loop(source, n, rng):
    """`n` samples of `source` (m, 2): pieces from random offsets with random gains, crossfaded."""
    fade = int(FADE_SECONDS * MUSDB_SR)
    ramp = np.linspace(0, 1, fade, dtype=np.float32)[:, None]
    out = np.zeros((n + len(source), 2), np.float32)
    position = 0
    while position < n:
        start = int(rng.integers(0, len(source) // 2))
        piece = source[start:] * np.float32(rng.uniform(0.7, 1.3))
        piece[:fade] *= ramp
        piece[-fade:] *= ramp[::-1]
        out[position:position + len(piece)] += piece
        position += len(piece) - fade
    return out[:n]


def build_song(songs, seconds, rng):
    """One song as a (5, n, 2) array in musdb's stream order: each stem from its own bundled song."""
    n = int(seconds * MUSDB_SR)
    names = list(songs)
    picks = rng.choice(len(names), size=4, replace=len(names) < 4)
    stems = [_loop(songs[names[k]][stem], n, rng) for k, stem in zip(picks, STREAM_ORDER[1:])]
    mixture = np.sum(stems, axis=0)
    scale = 0.9 / max(np.abs(mixture).max(), 1e-9)  # leave the AAC coder a little headroom
    return np.stack([mixture] + stems) * np.float32(min(scale, 1.0))


def song_names(train_songs, test_songs):
    """(train names, test names): the first quarter of the train songs (at least one) named as in musdb's
    validation list, the rest "Fixture Band - Train Song NN" / "Fixture Band - Test Song NN"."""
    n_valid = min(max(1, train_songs // 4), len(musdb_validation_names())) if train_songs >= 2 else 0
    train = musdb_validation_names()[:n_valid] + [f"Fixture Band - Train Song {k:02d}"
                                                  for k in range(1, train_songs - n_valid + 1)]
    return train, [f"Fixture Band - Test Song {k:02d}" for k in range(1, test_songs + 1)]


def write_music(root, train_songs, test_songs, seconds, rng):
    import stempeg

    songs = _bundled_stems()
    train, test = song_names(train_songs, test_songs)
    for subset, names in (("train", train), ("test", test)):
        (root / subset).mkdir(parents=True, exist_ok=True)
        for name in names:
            start = time.perf_counter()
            audio = build_song(songs, seconds, rng)
            writer = stempeg.StreamsWriter(codec="aac", bitrate=256000, stem_names=list(STREAM_ORDER))
            stempeg.write_stems(str(root / subset / f"{name}.stem.mp4"), audio, sample_rate=MUSDB_SR, writer=writer)
            print(f"  musdb18/{subset}/{name}.stem.mp4  {seconds:g} s  ({time.perf_counter() - start:.1f} s)",
                  flush=True)


# ----------------------------------------------------------------------------------------------
# Speakers
# ----------------------------------------------------------------------------------------------
def speaker_folders(n_speakers):
    """Folder names of `n_speakers` speakers: canonical names with one number left out, and the last
    speaker in a ``SpeakerK`` folder beside the canonical ``Speaker_000K`` (K = the second-to-last number)."""
    numbers = [k for k in range(n_speakers + 1) if k != MISSING_NUMBER][:n_speakers]
    folders = [f"Speaker_{k:04d}" for k in numbers]
    if n_speakers >= 3:
        folders[-1] = f"Speaker{numbers[-2]}"
    return folders


def write_speakers(root, n_speakers, clip_seconds, clips_per_speaker, rng):
    base = data_dir() / "speakers" / SPEAKERS_SUBFOLDER
    voices = sorted(d for d in base.iterdir() if d.is_dir())
    if not voices:
        raise FileNotFoundError(f"No bundled speakers in {base}: re-clone the repository.")
    for index, folder in enumerate(speaker_folders(n_speakers)):
        voice = voices[index % len(voices)]
        pieces = [load_audio(p, sr=None)[0] for p in sorted(voice.glob("*.wav"))]
        source_sr = sf.info(next(voice.glob("*.wav"))).samplerate
        # beyond the bundled voices, reuse them at another speed (and so another pitch)
        speed = 1.0 + 0.08 * (index // len(voices))
        sr = SPEAKER_RATES[index % 2]
        mp3 = index % 3 == 2
        out = root / SPEAKERS_SUBFOLDER / folder
        out.mkdir(parents=True)
        for clip in range(clips_per_speaker):
            audio, total = [], 0
            while total < clip_seconds * source_sr:
                piece = pieces[rng.integers(len(pieces))] * rng.uniform(0.6, 1.0)
                audio.append(piece)
                total += len(piece)
            audio = np.concatenate(audio)[:int(clip_seconds * source_sr)]
            audio = librosa.resample(audio, orig_sr=source_sr * speed, target_sr=sr)
            name = out / f"{folder}_{clip:05d}.wav"
            if mp3:  # MP3 data under a .wav name, as some of the real set's files are
                sf.write(name, audio, sr, format="MP3")
            else:
                sf.write(name, audio, sr, subtype="PCM_16")
        print(f"  kaggle_speakers/{SPEAKERS_SUBFOLDER}/{folder}: {clips_per_speaker} clips of {clip_seconds:g} s, "
              f"{sr} Hz, {'MP3 data' if mp3 else 'PCM'}", flush=True)


# ----------------------------------------------------------------------------------------------
def build(args):
    """Build the fixture tree for `args` (see `main`); return its root."""
    out = Path(args.out).expanduser().resolve()
    stamp = _stamp(args)
    if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp:
        print(f"Fixtures up to date in {out} (same arguments); nothing to do.")
        return out
    if out.exists() and not (out / "STAMP").is_file():
        raise FileExistsError(f"{out} exists but is not a fixture tree (no STAMP file); choose another --out "
                              f"or remove it.")
    start = time.perf_counter()
    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    rng = np.random.default_rng(args.seed)
    try:
        print(f"Building fixtures in {out} ...", flush=True)
        write_music(partial / "musdb18", args.train_songs, args.test_songs, args.seconds, rng)
        write_speakers(partial / "kaggle_speakers", args.speakers, args.clip_seconds, args.clips_per_speaker, rng)
        (partial / "STAMP").write_text(stamp)
        if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp:  # a parallel build finished first
            shutil.rmtree(partial)
        else:
            shutil.rmtree(out, ignore_errors=True)  # fixtures of other arguments
            os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"Fixtures built in {time.perf_counter() - start:.1f} s: {out}")
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="output folder (default: .cache/fixtures)")
    parser.add_argument("--train-songs", type=int, default=4, help="songs in musdb18/train (default 4)")
    parser.add_argument("--test-songs", type=int, default=2, help="songs in musdb18/test (default 2)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each song (default 180)")
    parser.add_argument("--speakers", type=int, default=10, help="speaker folders (default 10)")
    parser.add_argument("--clip-seconds", type=float, default=60.0, help="length of each speaker clip (default 60)")
    parser.add_argument("--clips-per-speaker", type=int, default=5, help="clips per speaker (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    args = parser.parse_args(argv)
    for name in ("train_songs", "test_songs", "speakers", "clips_per_speaker"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds < 1 or args.clip_seconds < 1:
        parser.error("--seconds and --clip-seconds must be at least 1")
    if args.out is None:
        args.out = str(cache_dir() / "fixtures")
    return args


def main(argv=None):
    build(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
