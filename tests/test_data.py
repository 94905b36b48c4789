"""The bundled sample data matches its manifest, fits its budget, and keeps its promises."""
import csv
import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).resolve().parents[1] / "data"
STEMS = ("vocals", "drums", "bass", "other")
MANIFEST = list(csv.DictReader(open(DATA / "MANIFEST.csv")))


def test_manifest_lists_exactly_the_audio_files():
    on_disk = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.suffix in {".wav", ".flac"})
    assert on_disk == sorted(row["path"] for row in MANIFEST)


@pytest.mark.parametrize("row", MANIFEST, ids=lambda row: row["path"])
def test_file_matches_manifest(row):
    path = DATA / row["path"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == row["md5"], f"{path} changed; rebuild or rewrite the manifest"
    info = sf.info(path)
    assert info.samplerate == int(row["sample_rate"]) and info.channels == int(row["channels"])
    assert abs(info.frames / info.samplerate - float(row["seconds"])) < 1e-3


def test_tracked_data_fits_the_budget():
    tracked = subprocess.run(["git", "ls-files", "-z", "data"], cwd=DATA.parent, capture_output=True, text=True).stdout
    paths = [DATA.parent / p for p in tracked.split("\0") if p]
    total = sum(p.stat().st_size for p in paths if p.is_file())
    assert total <= 25_000_000, f"data/ holds {total / 1e6:.1f} MB; the budget is 25 MB"


def test_speakers_are_16k_mono_in_kaggle_layout():
    rows = [r for r in MANIFEST if r["path"].startswith("speakers/")]
    speakers = {r["path"].split("/")[2] for r in rows}
    assert len(speakers) >= 8
    for row in rows:
        _, top, speaker, name = row["path"].split("/")
        assert top == "50_speakers_audio_data" and name.startswith(speaker + "_") and name.endswith(".wav")
        assert row["sample_rate"] == "16000" and row["channels"] == "1"


@pytest.mark.parametrize("track", sorted(p for p in DATA.glob("musdb*/*/*") if p.is_dir()), ids=lambda p: p.name)
def test_mixture_is_the_sum_of_the_stems(track):
    mixture, sr = sf.read(track / "mixture.flac", dtype="int16")
    stems = [sf.read(track / f"{name}.flac", dtype="int16")[0].astype(np.int32) for name in STEMS]
    assert all(s.shape == mixture.shape for s in stems) and mixture.shape[1] == 2
    assert np.abs(mixture.astype(np.int32) - sum(stems)).max() <= 2  # within rounding
    assert all(np.abs(s).max() > 0 for s in stems), "no stem may be silent"


def test_music_has_disjoint_train_and_test_songs():
    train = {p.name for p in DATA.glob("musdb/train/*")}
    test = {p.name for p in DATA.glob("musdb/test/*")}
    assert len(train) + len(test) >= 10 and len(test) >= 3 and train.isdisjoint(test)


def test_unseen_music_is_a_separate_test_set_in_the_same_format():
    unseen = sorted(p for p in DATA.glob("musdb_unseen/*/*") if p.is_dir())
    assert {p.parent.name for p in unseen} == {"test"} and len(unseen) >= 2
    bundled = {p.name for p in DATA.glob("musdb/*/*")}
    assert bundled.isdisjoint(p.name for p in unseen)
    for track in unseen:
        infos = [sf.info(track / f"{name}.flac") for name in STEMS + ("mixture",)]
        assert {(i.samplerate, i.channels, i.subtype, i.frames) for i in infos} == {(22050, 2, "PCM_16", infos[0].frames)}
        assert infos[0].frames >= 5 * 22050

