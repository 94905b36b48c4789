"""Build the bundled speaker sample from Debian's klettres-data, in the Kaggle dataset's layout.

Each klettres language folder holds one volunteer reading letters and syllables, one short
recording per file. For each chosen speaker the recordings are shuffled with a fixed seed,
trimmed of silence, resampled to 16 kHz mono and packed end to end into clips of about
3 seconds. Every recording lands in exactly one clip, so splitting the clips by file never
puts the same recording on both sides of a split.

Output: <out>/50_speakers_audio_data/Speaker_NNNN/Speaker_NNNN_MMMMM.wav (16-bit PCM).

Rebuild:  apt-get install klettres-data && python data/build/build_speakers.py
"""
import argparse
import glob
import os

import librosa
import numpy as np
import soundfile as sf

KLETTRES = "/usr/share/klettres"
SR = 16_000
CLIP_SECONDS = 3.0
SECONDS_PER_SPEAKER = 30.0
GAP_SECONDS = 0.12
TRIM_TOP_DB = 30
TARGET_RMS_DB = -20.0
SEED = 2024

# Speaker number -> klettres folders of one volunteer (the languages with >= 30 s of speech).
SPEAKERS = {
    0: ("ar", ["alpha"]),
    1: ("es", ["alpha", "syllab"]),
    2: ("he", ["alpha", "syllab"]),
    3: ("hu", ["alpha", "syllab"]),
    4: ("it", ["alpha", "syllab"]),
    5: ("lt", ["alpha", "syllab"]),
    6: ("nl", ["alpha", "syllab"]),
    7: ("pt_BR", ["alpha", "syllab"]),
    8: ("ru", ["alpha", "syllab"]),
    9: ("uk", ["alpha", "syllab"]),
}


def load_utterance(path):
    """Read one klettres recording as trimmed 16 kHz mono float audio."""
    audio, sr = sf.read(path, always_2d=True)
    audio = librosa.resample(audio.mean(axis=1), orig_sr=sr, target_sr=SR)
    trimmed, _ = librosa.effects.trim(audio, top_db=TRIM_TOP_DB)
    return trimmed


def pack_clips(utterances):
    """Concatenate utterances (with short gaps) into clips of about CLIP_SECONDS."""
    gap = np.zeros(int(GAP_SECONDS * SR))
    clips, current = [], []
    for utt in utterances:
        current += [utt, gap]
        if sum(len(x) for x in current) >= CLIP_SECONDS * SR:
            clips.append(np.concatenate(current)[: int(CLIP_SECONDS * SR)])
            current = []
        if len(clips) * CLIP_SECONDS >= SECONDS_PER_SPEAKER:
            break
    return clips


def normalise(clip):
    """Scale a clip to TARGET_RMS_DB, keeping its peak below -1 dBFS."""
    rms = np.sqrt(np.mean(clip**2))
    gain = 10 ** (TARGET_RMS_DB / 20) / rms
    gain = min(gain, 10 ** (-1 / 20) / np.abs(clip).max())
    return clip * gain


def build(out_root):
    rng = np.random.default_rng(SEED)
    root = os.path.join(out_root, "50_speakers_audio_data")
    for number, (lang, subfolders) in SPEAKERS.items():
        files = sorted(f for sub in subfolders for f in glob.glob(f"{KLETTRES}/{lang}/{sub}/*.ogg"))
        if not files:
            raise SystemExit(f"No klettres recordings for '{lang}': apt-get install klettres-data")
        order = rng.permutation(len(files))
        utterances = [u for u in (load_utterance(files[i]) for i in order) if len(u) > 0.1 * SR]
        clips = pack_clips(utterances)
        folder = os.path.join(root, f"Speaker_{number:04d}")
        os.makedirs(folder, exist_ok=True)
        for k, clip in enumerate(clips):
            sf.write(os.path.join(folder, f"Speaker_{number:04d}_{k:05d}.wav"), normalise(clip), SR, subtype="PCM_16")
        print(f"Speaker_{number:04d} ({lang}): {len(clips)} clips, {len(clips) * CLIP_SECONDS:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "speakers"))
    build(parser.parse_args().out)
