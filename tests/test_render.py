"""The training-set renderer's plan and score logic (data/build/render_training_set.py).

None of these tests renders audio: fluidsynth, Festival and the MIDI packages are not installed in CI. The tests
that build a small score need pretty_midi and are skipped without it.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "build"))
import build_music as bm  # noqa: E402
import render_training_set as rts  # noqa: E402

SEEDS = (0, 1, 2, 17)


def _all(seed):
    return rts.plan(seed) + rts.plan(seed, unseen=True)


def test_plan_is_deterministic_for_a_seed():
    assert rts.plan(seed=5) == rts.plan(seed=5)
    assert rts.plan(seed=5, unseen=True) == rts.plan(seed=5, unseen=True)
    assert [r.seed for r in rts.plan(seed=5)] != [r.seed for r in rts.plan(seed=6)]
    assert rts.plan(seed=5) != rts.plan(seed=6)


def test_default_plan_gives_at_least_two_hours_of_training_music():
    renditions = rts.plan()
    train = [r for r in renditions if r.subset == "train"]
    valid = {r.source.file for r in renditions if r.subset == "valid"}
    assert len(train) * rts.SECONDS >= 2 * 3600 * 1.1   # a few songs are shorter than 60 s
    assert 3 <= len(valid) <= 4
    names = [(r.subset, r.name) for r in renditions]
    assert len(set(names)) == len(names)
    assert all(not r.name.startswith("-") and "/" not in r.name for r in renditions)


def test_variants_of_a_song_sound_different():
    train = [r for r in rts.plan() if r.subset == "train"]
    for source in {r.source for r in train}:
        sounds = {(r.soundfont, r.drums, r.voice, r.tempo, r.transpose) for r in train if r.source == source}
        assert len(sounds) == rts.DEFAULT_VARIANTS


@pytest.mark.parametrize("seed", SEEDS)
def test_train_valid_and_unseen_use_disjoint_midi_files(seed):
    files = {subset: {r.source.path for r in _all(seed) if r.subset == subset}
             for subset in ("train", "valid", "unseen")}
    assert files["train"] and files["valid"] and len(files["unseen"]) >= 2
    assert files["train"].isdisjoint(files["valid"])
    assert files["train"].isdisjoint(files["unseen"]) and files["valid"].isdisjoint(files["unseen"])


@pytest.mark.parametrize("seed", SEEDS)
def test_bundled_test_songs_are_never_rendered(seed):
    test_files = {bm.MIDI_DIR / s.file for s in bm.SONGS if s.subset == "test"}
    assert len(test_files) == 4
    assert test_files.isdisjoint(r.source.path for r in _all(seed))
    assert test_files.isdisjoint(s.path for s in rts.SOURCES)
    assert all(rts.EXCLUDED[p.name] == "a test song of data/musdb" for p in test_files)


def test_bundled_training_songs_keep_their_hand_picked_leads():
    by_file = {s.file: s for s in rts.SOURCES}
    for song in bm.SONGS:
        if song.subset == "train":
            assert by_file[song.file].lead == song.lead and by_file[song.file].subset == "train"


@pytest.mark.parametrize("seed", SEEDS)
def test_unseen_sounds_are_held_out_from_training(seed):
    seen = [r for r in rts.plan(seed) if r.subset in ("train", "valid")]
    unseen = rts.plan(seed, unseen=True)
    assert {r.soundfont for r in seen} <= set(rts.SOUNDFONTS)
    assert {r.soundfont for r in unseen} <= set(rts.UNSEEN_SOUNDFONTS)
    assert set(rts.SOUNDFONTS).isdisjoint(rts.UNSEEN_SOUNDFONTS)
    assert {r.drums for r in seen}.isdisjoint(r.drums for r in unseen)
    assert set(rts.HYDROGEN_KITS).isdisjoint(rts.UNSEEN_HYDROGEN_KITS)
    assert {r.voice for r in seen} <= set(rts.VOICES)
    assert {r.voice for r in unseen} <= set(rts.UNSEEN_VOICES)
    assert set(rts.VOICES).isdisjoint(rts.UNSEEN_VOICES)
    assert {rts.VOICES[v][0] for v in rts.VOICES}.isdisjoint(c for c, *_ in rts.UNSEEN_VOICES.values())


def test_settings_are_varied_and_in_range():
    renditions = rts.plan()
    assert len({r.soundfont for r in renditions}) >= 3
    assert len({r.voice for r in renditions}) >= 6
    assert len({r.drums.split(":")[0] for r in renditions}) == 3
    assert len({r.drums for r in renditions if r.drums.startswith("hydrogen:")}) >= 8
    for r in renditions + rts.plan(unseen=True):
        assert 0.85 <= r.tempo <= 1.15 and -3 <= r.transpose <= 3 and 0 <= r.position < 1
        assert all(-6 <= g <= 6 for g in r.gains_db) and -6 <= r.vocal_to_accomp_db <= 3
        assert -9 <= r.peak_dbfs <= -3 and abs(r.vocal_pan) <= 0.3 and abs(r.bass_pan) <= 0.15
        command, _, (low, high), (lowest, highest) = {**rts.VOICES, **rts.UNSEEN_VOICES}[r.voice]
        assert low <= r.register <= high
        if command:   # Festival's singing mode crashes from MIDI 72 up
            assert highest <= 71 and r.register <= highest


def test_kit_gm_map_reproduces_build_musics_gmrockkit_table():
    names = ["Kick", "Stick", "Snare", "Hand Clap", "Snare Rimshot", "Floor Tom", "Hat Closed", "Tom 2",
             "Hat Pedal", "Tom 1", "Hat Open", "Cowbell", "Ride", "Crash", "Ride 2", "Splash", "Hat Semi-Open",
             "Bell"]
    mapping = rts.kit_gm_map(names)
    assert {note: mapping[note] for note in bm.GM_TO_KIT} == bm.GM_TO_KIT


def test_kit_gm_map_falls_back_and_leaves_out_what_a_kit_lacks():
    names = ["Kick Long", "Kick Short", "Snare 1", "Snare 2", "Clap", "Tom Low", "Tom Mid", "Tom Hi",
             "Closed Hat", "Pedal Hat", "Open Hat", "Cymbal", "Shaker", "Conga", "Clave", "Cowbell"]
    mapping = rts.kit_gm_map(names)
    assert mapping[36] == "Kick Long" and mapping[38] == "Snare 1" and mapping[40] == "Snare 2"
    assert mapping[49] == "Cymbal" and mapping[51] == "Cymbal" and mapping[44] == "Pedal Hat"
    assert 37 not in mapping and 53 not in mapping   # played by the soundfont
    assert rts.kit_gm_map(["Hi Hat Closed", "BassDrum"])[44] == "Hi Hat Closed"


# --- score logic on small scores (needs pretty_midi) ---------------------------------------------------------

def _score(parts):
    """A PrettyMIDI score from {(program, is_drum): [(start, end, pitch), ...]}."""
    pretty_midi = pytest.importorskip("pretty_midi")
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for (program, is_drum), notes in parts.items():
        inst = pretty_midi.Instrument(program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(90, p, s, e) for s, e, p in notes]
        pm.instruments.append(inst)
    return pm


def test_choose_lead_picks_the_highest_well_covering_line():
    beats = [(0.5 * k, 0.5 * k + 0.4) for k in range(40)]                   # 20 s
    pm = _score({
        (0, True): [(s, s + 0.1, 36) for s, _ in beats],                     # drums: never the lead
        (33, False): [(s, e, 36) for s, e in beats],                         # bass: never the lead
        (89, False): [(s, e, 50) for s, e in beats],                         # a low pad, covers everything
        (73, False): [(s, e, 72) for s, e in beats[:30]],                    # the melody: high, 75 % coverage
        (80, False): [(0.0, 0.4, 90), (0.5, 0.9, 91)],                       # high but nearly silent
        (113, False): [(s, e, 96) for s, e in beats],                        # agogo: percussive, never sung
    })
    assert rts.choose_lead(pm) == (3,)
    assert rts.choose_lead(_score({(0, True): [(0, 1, 36)], (33, False): [(0, 1, 36)]})) == ()


def test_crop_cuts_the_window_moves_controllers_and_scales_time():
    pretty_midi = pytest.importorskip("pretty_midi")
    pm = _score({(0, False): [(0.0, 1.0, 60), (1.5, 3.0, 62), (4.0, 5.0, 64), (9.0, 9.5, 65)]})
    pm.instruments[0].control_changes = [pretty_midi.ControlChange(7, 50, 0.0), pretty_midi.ControlChange(7, 90, 1.0),
                                         pretty_midi.ControlChange(10, 20, 4.5), pretty_midi.ControlChange(7, 10, 8.0)]
    out = rts.crop(pm, 2.0, 6.0, tempo=2.0)
    notes = [(n.start, n.end, n.pitch) for n in out.instruments[0].notes]
    assert notes == [(0.0, 0.5, 62), (1.0, 1.5, 64)]
    assert [(c.number, c.value, c.time) for c in out.instruments[0].control_changes] == [(7, 90, 0.0), (10, 20, 1.25)]
    assert [n.start for n in pm.instruments[0].notes] == [0.0, 1.5, 4.0, 9.0]     # the original is untouched
    kept = rts.crop(pm, 2.0, 6.0, origin=0.0)
    assert [(n.start, n.end) for n in kept.instruments[0].notes] == [(2.0, 3.0), (4.0, 5.0)]


def test_crop_writes_no_note_shorter_than_min_note():
    pm = _score({(33, False): [(1.0, 1.5, 40), (2.0, 2.001, 41), (2.99, 3.5, 42)], (0, True): [(1.0, 1.001, 36)]})
    out = rts.crop(pm, 0.5, 3.0)
    bass = [(round(n.start, 3), round(n.end, 3), n.pitch) for n in out.instruments[0].notes]
    assert bass == [(0.5, 1.0, 40), (1.5, 1.5 + rts.MIN_NOTE, 41)]   # the note cut to 10 ms at the end is gone
    assert out.instruments[1].notes[0].end - out.instruments[1].notes[0].start == pytest.approx(rts.MIN_NOTE)


def test_vary_groups_transposes_pitched_parts_only_and_pans_every_instrument():
    np = pytest.importorskip("numpy")
    groups = {"drums": _score({(0, True): [(0.0, 0.1, 36)]}),
              "bass": _score({(33, False): [(0.0, 1.0, 40)]}),
              "other": _score({(0, False): [(0.0, 1.0, 60)], (40, False): [(0.0, 1.0, 67)]})}
    rendition = next(r for r in rts.plan() if r.transpose == -2)
    rts.vary_groups(groups, rendition, np.random.default_rng(0))
    assert groups["drums"].instruments[0].notes[0].pitch == 36
    assert groups["bass"].instruments[0].notes[0].pitch == 38 and groups["bass"].instruments[0].program in range(32, 40)
    assert [i.notes[0].pitch for i in groups["other"].instruments] == [58, 65]
    assert [i.program // 8 for i in groups["other"].instruments] == [0, 5]
    pans = [c.value for g in ("bass", "other") for i in groups[g].instruments
            for c in i.control_changes if c.number == 10]
    assert len(pans) == 3 and pans[0] == int(round(64 + 63 * rendition.bass_pan))
