"""Write data/MANIFEST.csv: one row per bundled audio file (path, seconds, rate, channels, md5).

Run after rebuilding the sample data:  python data/build/write_manifest.py
tests/test_data.py checks the data against this manifest.
"""
import csv
import hashlib
from pathlib import Path

import soundfile as sf

DATA = Path(__file__).resolve().parents[1]
AUDIO_SUFFIXES = {".wav", ".flac"}


def manifest_rows():
    for path in sorted(p for p in DATA.rglob("*") if p.suffix in AUDIO_SUFFIXES):
        info = sf.info(path)
        yield {"path": path.relative_to(DATA).as_posix(), "seconds": f"{info.frames / info.samplerate:.4f}",
               "sample_rate": info.samplerate, "channels": info.channels,
               "md5": hashlib.md5(path.read_bytes()).hexdigest()}


if __name__ == "__main__":
    rows = list(manifest_rows())
    with open(DATA / "MANIFEST.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} files in {DATA / 'MANIFEST.csv'}")
