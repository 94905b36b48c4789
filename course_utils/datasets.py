"""The course's two datasets, read the same way in sample and full mode.

- Speakers: the Kaggle "Speaker Recognition Audio Dataset" layout
  (``50_speakers_audio_data/Speaker_0000/Speaker_0000_00000.wav``). Used in: 00–05.
- Music: MUSDB18 through ``musdb.DB`` (decoded WAV tree or ``.stem.mp4``). Used in: 00, 06–11.

Sample mode reads the real audio bundled in ``data/``; full mode reads the real datasets,
downloaded on Colab. Nothing under a data root is ever modified; decoded audio and downloads
go to the git-ignored ``.cache/`` (see `runtime.cache_dir`).
"""
import hashlib
import os
import re
import shutil
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .audio import excerpt, load_audio
from .runtime import cache_dir, check_data_mode, data_dir, on_colab

# ----------------------------------------------------------------------------------------------
# Speakers (Kaggle layout)
# ----------------------------------------------------------------------------------------------
KAGGLE_DATASET = "vjcalling/speaker-recognition-audio-dataset"
KAGGLE_URL = f"https://www.kaggle.com/datasets/{KAGGLE_DATASET}"
SPEAKERS_SUBFOLDER = "50_speakers_audio_data"
SPEAKER_SR = 16_000  # the rate every speaker clip is resampled to (the bundled sample's own rate)
AUDIO_EXTENSIONS = {".wav", ".mp3", ".flac", ".ogg"}
_SPEAKER_FOLDER = re.compile(r"^speaker_?(\d+)$", re.IGNORECASE)


def speakers_root(data_mode="sample", root=None):
    """Where the speaker data lives for a data mode.

    Used in: 00–05 (parameters cell).

    Args:
        data_mode: "sample" (bundled ``data/speakers``) or "full" (the Kaggle dataset).
        root: explicit folder; overrides the default of either mode.
    Returns:
        pathlib.Path (full mode default: ``.cache/kaggle_speakers``, where
        `download_kaggle_speakers` puts it).
    """
    check_data_mode(data_mode)
    if root is not None:
        return Path(root)
    return data_dir() / "speakers" if data_mode == "sample" else cache_dir("kaggle_speakers")


def _found(folder, limit=6):
    """What a folder holds, for error messages: "it holds a, b/, c (+3 more)" or "it is empty"."""
    entries = sorted(f"{p.name}/" if p.is_dir() else p.name for p in Path(folder).iterdir())
    if not entries:
        return "it is empty"
    more = f" (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"it holds {', '.join(entries[:limit])}{more}"


def _speaker_folders(root):
    """Map speaker label -> folder, accepting ``root`` or ``root/50_speakers_audio_data``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"Speaker data folder not found: {root}. In sample mode it ships with the repository "
            f"(data/speakers); in full mode run course_utils.download_kaggle_speakers() first."
        )
    base = root / SPEAKERS_SUBFOLDER if (root / SPEAKERS_SUBFOLDER).is_dir() else root
    numbered = [(int(m.group(1)), d) for d in base.iterdir() if d.is_dir() and (m := _SPEAKER_FOLDER.match(d.name))]
    # canonical names (Speaker_0026) first, so that a duplicate (Speaker26) is the one set apart
    numbered.sort(key=lambda item: (item[0], item[1].name != f"Speaker_{item[0]:04d}", item[1].name))
    if not numbered:
        hint = ""
        if any(p.suffix.lower() in AUDIO_EXTENSIONS for p in base.iterdir()):
            hint = f" It holds audio files itself: is it one speaker's folder? Pass the folder above it ({base.parent})."
        elif nested := sorted(base.glob(f"*/{SPEAKERS_SUBFOLDER}")):
            hint = f" The dataset seems to be one level down: pass {nested[0].parent}."
        raise FileNotFoundError(
            f"No speaker folders (Speaker_0000, Speaker_0001, ...) in {base}; {_found(base)}. Expected the Kaggle "
            f"layout {SPEAKERS_SUBFOLDER}/Speaker_0000/Speaker_0000_00000.wav.{hint}"
        )
    folders = {}
    for number, folder in numbered:
        label = f"Speaker_{number:04d}"
        if label in folders:  # e.g. both Speaker26 and Speaker_0026: keep them apart, by folder name
            warnings.warn(f"Folders {folders[label].name} and {folder.name} share number {number}; "
                          f"treating {folder.name} as a separate speaker.")
            label = folder.name
        folders[label] = folder
    return folders


def list_speaker_files(root):
    """List every audio file of a Kaggle-layout speaker dataset.

    Used in: 00–05.

    Copes with the real dataset's quirks: folder names ``Speaker26`` beside ``Speaker_0026``
    (both read as speaker 26), missing numbers, and any audio extension (the content decides
    how a file is decoded, see `audio.load_audio`).

    Args:
        root: the dataset folder (holding ``50_speakers_audio_data/`` or the speaker folders).
    Returns:
        DataFrame with columns ``speaker`` (label such as "Speaker_0003"), ``file`` (file name)
        and ``path``, sorted by speaker then file.
    Raises:
        FileNotFoundError: missing root, no speaker folders, or a speaker folder without audio.
        ValueError: empty (0-byte) files, left by an interrupted download.
    """
    rows = []
    for label, folder in _speaker_folders(root).items():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"Speaker folder {folder} holds no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}); "
                                    f"{_found(folder)}.")
        empty = [p.name for p in files if p.stat().st_size == 0]
        if empty:
            raise ValueError(f"{len(empty)} file(s) in {folder} are empty (0 bytes), e.g. {empty[0]}: the download or "
                             f"unzip was interrupted. Download the dataset again (delete {Path(root)} first).")
        rows += [(label, p.name, str(p)) for p in files]
    return pd.DataFrame(rows, columns=["speaker", "file", "path"]).sort_values(["speaker", "file"], ignore_index=True)


def choose_speakers(files, n_speakers, seed=0):
    """Deterministically choose `n_speakers` speakers and keep only their files.

    Used in: 01–05 (S0 uses 8 speakers).

    Args:
        files: DataFrame from `list_speaker_files`.
        n_speakers: how many speakers to keep.
        seed: the same seed always picks the same speakers from the same dataset.
    Returns:
        The filtered DataFrame (speakers in sorted order).
    """
    speakers = sorted(files["speaker"].unique())
    if not 1 <= n_speakers <= len(speakers):
        raise ValueError(f"Asked for {n_speakers} speakers, but the dataset has {len(speakers)}.")
    chosen = sorted(np.random.default_rng(seed).choice(speakers, size=n_speakers, replace=False))
    return files[files["speaker"].isin(chosen)].reset_index(drop=True)


def split_by_file(files, test_fraction=0.3, val_fraction=0.0, seed=0):
    """Assign whole files to train/val/test, separately for each speaker.

    Used in: 03–05. Splitting segments instead of files puts parts of one recording on both
    sides and inflates test accuracy (03 demonstrates it).

    Args:
        files: DataFrame with ``speaker`` and ``file`` columns.
        test_fraction, val_fraction: share of each speaker's files (at least one file each
            when the fraction is > 0).
        seed: shuffling seed.
    Returns:
        A copy of `files` with a ``split`` column ("train", "val" or "test").
    Raises:
        ValueError: fractions outside [0, 1) or a speaker with too few files to split.
    """
    if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ValueError("test_fraction and val_fraction must be in [0, 1) and sum to less than 1.")
    rng = np.random.default_rng(seed)
    out = files.copy()
    out["split"] = "train"
    for speaker, index in out.groupby("speaker").groups.items():
        index = rng.permutation(np.asarray(index))
        n_test = int(np.ceil(test_fraction * len(index))) if test_fraction else 0
        n_val = int(np.ceil(val_fraction * len(index))) if val_fraction else 0
        if n_test + n_val >= len(index):
            raise ValueError(f"{speaker} has only {len(index)} files: too few to hold out {n_test} test "
                             f"and {n_val} validation files. Lower the fractions or drop the speaker.")
        out.loc[index[:n_test], "split"] = "test"
        out.loc[index[n_test:n_test + n_val], "split"] = "val"
    return out


def load_speaker_file(path, sr=SPEAKER_SR):
    """Load one speaker recording as mono audio at `sr`, whatever its format or rate.

    Used in: 00–05.
    """
    return load_audio(path, sr=sr, mono=True)[0]


def _kaggle_credentials():
    """True if Kaggle credentials are available (environment, kaggle.json or a Colab secret)."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    if config.is_file():
        return True
    if on_colab():
        try:
            from google.colab import userdata

            os.environ["KAGGLE_USERNAME"] = userdata.get("KAGGLE_USERNAME")
            os.environ["KAGGLE_KEY"] = userdata.get("KAGGLE_KEY")
            return True
        except Exception:
            return False
    return False


KAGGLE_HELP = """Kaggle credentials are needed to download {url}.
Do one of these, then run the cell again:
  1. Colab: open the key icon (Secrets) in the left bar, add KAGGLE_USERNAME and KAGGLE_KEY,
     and allow this notebook to read them.
  2. Anywhere: create an API token at https://www.kaggle.com/settings (Account > API > Create
     New Token) and save the downloaded kaggle.json as ~/.kaggle/kaggle.json (chmod 600).
  3. Or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY."""


def download_kaggle_speakers(dest=None):
    """Download and unzip the Kaggle speaker dataset (full mode); skip it if already there.

    Used in: 02–05 in full mode (run on Colab).

    Args:
        dest: target folder (default: `speakers_root("full")`, i.e. ``.cache/kaggle_speakers``).
    Returns:
        pathlib.Path of the dataset root, ready for `list_speaker_files`.
    Raises:
        PermissionError: no Kaggle credentials; the message says where to put them.
        ConnectionError: Kaggle cannot be reached; the message says how to download by hand.
    """
    dest = Path(dest) if dest is not None else speakers_root("full")
    try:
        list_speaker_files(dest)
        return dest  # already downloaded
    except FileNotFoundError:
        pass
    if not _kaggle_credentials():
        raise PermissionError(KAGGLE_HELP.format(url=KAGGLE_URL))
    from kaggle.api.kaggle_api_extended import KaggleApi  # imported here: `import kaggle` authenticates

    try:
        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(KAGGLE_DATASET, path=str(dest), unzip=True, quiet=False)
    except Exception as err:
        raise ConnectionError(
            f"Could not download {KAGGLE_DATASET} from Kaggle ({type(err).__name__}: {err}). Check the "
            f"internet connection and your credentials, or download the zip from {KAGGLE_URL} and unzip "
            f"it into {dest}."
        ) from err
    return dest


# ----------------------------------------------------------------------------------------------
# Music (MUSDB18 layout)
# ----------------------------------------------------------------------------------------------
MUSDB_TARGETS = ("vocals", "drums", "bass", "other")
MUSDB_FILES = ("mixture",) + MUSDB_TARGETS
MUSDB18_SR = 44_100  # MUSDB18's rate
SAMPLE_MUSIC_SR = 22_050  # the bundled music sample's rate
MUSDB_PREVIEW_ROOT = Path("~/MUSDB18/MUSDB18-7").expanduser()  # where musdb's download=True puts the preview


def require_ffmpeg():
    """Raise a helpful error if the ffmpeg/ffprobe programs that musdb needs are missing.

    Used in: `load_musdb`, and by 00's environment check.
    """
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"musdb needs the {' and '.join(missing)} program(s), even for WAV files. Install ffmpeg: "
            "'sudo apt-get install ffmpeg' (Debian/Ubuntu), 'conda install -c conda-forge ffmpeg', "
            "or 'brew install ffmpeg' (macOS); Colab already has it."
        )


def _file_md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def sample_musdb_root(collection="musdb"):
    """Decode a bundled FLAC music collection into a MUSDB-layout WAV tree in the cache; return its root.

    Used in: `load_musdb` in sample mode (``data/musdb``) and `load_unseen_music` (``data/musdb_unseen``).
    The FLAC files are decoded once (lossless: the mixture still equals the sum of the stems); a stamp of
    their checksums makes the cache rebuild itself if the bundled data changes.

    Args:
        collection: the folder under ``data/``: "musdb" (the sample) or "musdb_unseen" (the unseen test songs).
    Returns:
        pathlib.Path of a folder with ``{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav``.
    """
    source = data_dir() / collection
    flacs = sorted(source.glob("*/*/*.flac"))
    if not flacs:
        raise FileNotFoundError(f"The music in {source} is missing: re-clone the repository.")
    stamp = hashlib.md5("".join(f"{p.relative_to(source)}:{p.stat().st_size}" for p in flacs).encode()).hexdigest()
    target = cache_dir(f"{collection}_sample_wav")
    if (target / "STAMP").is_file() and (target / "STAMP").read_text() == stamp:
        return target
    # decode into a private folder and rename it into place, so that a parallel run never reads half a tree
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for flac in flacs:
        wav = partial / flac.relative_to(source).with_suffix(".wav")
        wav.parent.mkdir(parents=True, exist_ok=True)
        audio, sr = sf.read(flac, dtype="int16")
        sf.write(wav, audio, sr, subtype="PCM_16")
    (partial / "STAMP").write_text(stamp)
    if (target / "STAMP").is_file() and (target / "STAMP").read_text() == stamp:  # another process was quicker
        shutil.rmtree(partial, ignore_errors=True)
        return target
    shutil.rmtree(target, ignore_errors=True)  # an outdated decode (the sample changed) or an empty folder
    try:
        os.replace(partial, target)
    except OSError:  # another process put a complete tree there in the meantime
        shutil.rmtree(partial, ignore_errors=True)
    return target


def musdb_root(data_mode="sample", root=None):
    """Where the MUSDB-layout music lives for a data mode.

    Used in: 00, 06–11 (through `load_musdb`).

    Args:
        data_mode: "sample" (the bundled tracks, decoded to the cache) or "full".
        root: explicit folder for full mode; default the ``MUSDB_PATH`` environment variable.
    """
    check_data_mode(data_mode)
    if data_mode == "sample":
        return sample_musdb_root()
    root = root or os.environ.get("MUSDB_PATH")
    if root is None:
        raise FileNotFoundError(
            "Full mode needs MUSDB18: set MUSDB_PATH (or pass root=) to the folder holding train/ and "
            "test/, or call load_musdb('full', download=True) to fetch the 7-second preview."
        )
    return Path(root).expanduser()


def check_rate(track_or_sr, expected_sr, what="track"):
    """Raise a clear error unless a track (or a rate in Hz) is at the sample rate a configuration expects.

    Used in: `load_musdb` (its `sr` argument).

    Args:
        track_or_sr: a musdb track (anything with ``.rate``) or a rate in Hz.
        expected_sr: the rate the configuration (e.g. ``CONFIG["sr"]``) is built for, in Hz.
        what: what to call the track in the message (default: the track's name, else "track").
    Returns:
        the rate, as an int.
    Raises:
        ValueError: the rates differ; the message says which DATA_MODE or configuration fits the data.
    """
    rate = getattr(track_or_sr, "rate", track_or_sr)
    if what == "track" and hasattr(track_or_sr, "name"):
        what = f"track '{track_or_sr.name}'"
    if not isinstance(rate, (int, float, np.integer, np.floating)) or rate <= 0:
        raise ValueError(f"check_rate needs a musdb track or a rate in Hz, got {track_or_sr!r}.")
    if int(rate) != int(expected_sr):
        raise ValueError(
            f"{what} is at {int(rate)} Hz, but the configuration expects {int(expected_sr)} Hz. Use the "
            f"configuration made for this data (sample mode: the bundled {SAMPLE_MUSIC_SR} Hz songs; full mode: "
            f"MUSDB18 at {MUSDB18_SR} Hz), or point the data root at songs of {int(expected_sr)} Hz."
        )
    return int(rate)


def _mp4_problem(path):
    """Why a .stem.mp4 file cannot be a complete MP4 (empty, truncated, another format), or None.

    Walks the file's top-level boxes: a complete MP4 starts with ``ftyp``, holds ``moov`` and ``mdat``, and
    its boxes add up to the file size exactly (a copy or download cut short does not).
    """
    size, position, kinds = path.stat().st_size, 0, []
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as f:
        while position < size:
            f.seek(position)
            header = f.read(16)
            if len(header) < 8:
                return f"is truncated (it ends inside a box header at byte {position} of {size})"
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1 and len(header) == 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:  # the last box runs to the end of the file
                box_size = size - position
            if position == 0 and kind != b"ftyp":
                return f"is not an MP4 file (it starts with {header[:8]!r}, not an 'ftyp' box)"
            if box_size < 8 or not all(32 <= byte < 127 for byte in kind):  # box types are 4 printable characters
                return f"is damaged (no MP4 box at byte {position})"
            if position + box_size > size:
                return f"is truncated ({size:,} bytes, but its '{kind.decode()}' box needs {position + box_size:,})"
            kinds.append(kind)
            position += box_size
    if b"moov" not in kinds or b"mdat" not in kinds:
        return "is incomplete (it lacks its 'moov' or 'mdat' box)"
    return None


def _wav_track_problem(track):
    """Why a decoded MUSDB track folder cannot be read (missing, empty or unreadable stems, mixed rates), or None."""
    missing = [f"{name}.wav" for name in MUSDB_FILES if not (track / f"{name}.wav").is_file()]
    if missing:
        return f"lacks {', '.join(missing)}"
    shapes = {}
    for name in MUSDB_FILES:
        try:
            info = sf.info(track / f"{name}.wav")
        except (sf.LibsndfileError, RuntimeError):
            return f"has an unreadable {name}.wav ({(track / f'{name}.wav').stat().st_size} bytes: half-written?)"
        if info.frames == 0:
            return f"has an empty {name}.wav (no samples: half-written?)"
        shapes[name] = (info.samplerate, info.frames)
    if len(set(shapes.values())) > 1:
        return "has stems of different rates or lengths (" + ", ".join(
            f"{name} {rate} Hz x {frames}" for name, (rate, frames) in shapes.items()) + ")"
    return None


def _check_musdb_layout(root, subsets):
    """Raise a clear error unless `root` holds readable MUSDB tracks; return is_wav (decoded tree or stems).

    Reads only file headers (every stem file's MP4 boxes, every WAV file's header); never writes.
    """
    root = Path(root)
    fix = "Point MUSDB_PATH (or root=) at the folder holding MUSDB18's train/ and test/ folders."
    if not root.is_dir():
        raise FileNotFoundError(f"MUSDB root not found: {root}. {fix}")
    if any(root.glob("*.stem.mp4")) or any(root.glob("*/mixture.wav")):
        raise FileNotFoundError(f"{root} holds tracks itself: it looks like MUSDB18's train/ or test/ folder. "
                                f"Pass the folder above it ({root.parent}).")
    kinds = {}
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            nested = sorted(d for d in root.glob(f"*/{subset}") if d.is_dir())
            hint = f" The dataset seems to be one level down: pass {nested[0].parent}." if nested else f" {fix}"
            raise FileNotFoundError(f"{root} has no '{subset}' folder ({_found(root)}); MUSDB18 is laid out as "
                                    f"root/train and root/test.{hint}")
        stems = sorted(folder.glob("*.stem.mp4"))
        tracks = sorted(d for d in folder.iterdir() if d.is_dir())
        if stems and tracks:
            raise FileNotFoundError(f"{folder} mixes .stem.mp4 files and decoded track folders; keep one format "
                                    f"(musdb reads either all stems or all WAV folders).")
        if not stems and not tracks:
            raise FileNotFoundError(f"{folder} holds no tracks (neither <track>/mixture.wav folders nor .stem.mp4 "
                                    f"files); {_found(folder)}.")
        for item in stems or tracks:
            problem = _mp4_problem(item) if stems else _wav_track_problem(item)
            if problem:
                what = "Stem file" if stems else "Track folder"
                raise FileNotFoundError(f"{what} {item} {problem}. Copy or download it again (or remove it).")
        kinds[subset] = not stems
    if len(set(kinds.values())) > 1:
        raise FileNotFoundError(f"{root}: " + ", ".join(f"{k} holds {'WAV folders' if v else '.stem.mp4 files'}"
                                                      for k, v in kinds.items()) + "; musdb reads one format per root.")
    return next(iter(kinds.values()))


def load_musdb(data_mode="sample", subsets=("train", "test"), split=None, root=None, download=False, sr=None):
    """Open the music dataset with ``musdb.DB``: the same code path for the sample and MUSDB18.

    Used in: 00, 06–11.

    Args:
        data_mode: "sample" or "full".
        subsets: "train", "test" or both.
        split: "train"/"valid" (only with subsets="train"; musdb's fixed validation list).
        root: full mode: the MUSDB18 folder (default ``MUSDB_PATH``).
        download: full mode: fetch musdb's 7-second preview (needs internet; for Colab).
        sr: if given, the rate in Hz every track must have (e.g. ``CONFIG["sr"]``), see `check_rate`.
    Returns:
        musdb.DB whose ``tracks`` each give ``.audio`` (n, 2), ``.rate`` and
        ``.targets[name].audio`` for vocals, drums, bass, other, accompaniment.
    Raises:
        RuntimeError: ffmpeg missing. FileNotFoundError: root missing, wrongly laid out or half-written.
        ValueError: a track at another rate than `sr`, or a stem file without MUSDB18's five streams.
        ConnectionError: the preview download failed.
    """
    require_ffmpeg()
    import musdb  # imported here: musdb checks for ffmpeg at import time

    subsets = [subsets] if isinstance(subsets, str) else list(subsets)
    if download:
        check_data_mode(data_mode)
        try:
            return musdb.DB(root=root, download=True, subsets=subsets, split=split)
        except OSError as err:
            raise ConnectionError(
                f"Could not download the MUSDB18 7-second preview ({err}). It needs internet (use Colab), or "
                f"download MUSDB18 from https://sigsep.github.io/datasets/musdb.html and set MUSDB_PATH."
            ) from err
    root = musdb_root(data_mode, root)
    is_wav = _check_musdb_layout(root, subsets)
    db = musdb.DB(root=str(root), is_wav=is_wav, subsets=subsets, split=split)
    for track in db.tracks:
        if not is_wav and len(track.info.audio_streams) != len(MUSDB_FILES):
            raise ValueError(f"{track.path} holds {len(track.info.audio_streams)} audio stream(s); a MUSDB18 stem "
                             f"file holds {len(MUSDB_FILES)} (mixture, drums, bass, other, vocals).")
        if sr is not None:
            check_rate(track, sr)
    return db


Track = namedtuple("Track", ["mixture", "stems", "sr"])
Track.__doc__ = """One song as arrays, the one track type of 06–11: every separator's data readers and evaluation take it.

mixture: (n,) or (n, channels) float64; stems: {name: array shaped like the mixture}; sr: rate in Hz.
A plain (mixture, stems, sr) tuple works wherever a Track does.
"""


def load_unseen_music():
    """The bundled unseen test songs: MIDI, a soundfont, a drum kit and a voice that no training song uses.

    Used in: 07–11 (every model on the test songs and on these, side by side: what generalisation costs).

    Returns:
        musdb.DB of ``data/musdb_unseen`` (decoded to the cache like the sample): 22.05 kHz stereo test songs.
    """
    require_ffmpeg()
    import musdb

    return musdb.DB(root=str(sample_musdb_root("musdb_unseen")), is_wav=True, subsets="test")


def track_arrays(track, targets=MUSDB_TARGETS, seconds=None):
    """A musdb track as a `Track` of plain arrays: the mixture, a dict of stems, and the sample rate.

    Used in: 06–11 (separators and evaluation take arrays, not musdb objects; 10 reads an excerpt of a song).

    Args:
        track: a track from `load_musdb(...).tracks`.
        targets: stem names to read (any of musdb's targets, e.g. "accompaniment").
        seconds: None for the whole track, or the part to keep, as `audio.excerpt` with fit=True takes it: s (the
            first s seconds) or (start, end) in s, moved back to end at the song's end if it runs past it. The part
            is copied, so the rest of the song is freed.
    Returns:
        Track(mixture (n, 2) float64, {name: (n, 2) float64}, rate in Hz).
    """
    missing = [name for name in targets if name not in track.targets]
    if missing:
        raise ValueError(f"Track {track.name} has no target(s) {missing}; it has {list(track.targets)}.")

    def part(audio):
        audio = np.asarray(audio, dtype=np.float64)
        return audio if seconds is None else excerpt(audio, int(track.rate), seconds, fit=True).copy()

    stems = {name: part(track.targets[name].audio) for name in targets}
    return Track(part(track.audio), stems, int(track.rate))


def as_track(track, targets=MUSDB_TARGETS, what="A track"):
    """A musdb track or a (mixture, stems, sr) tuple as a checked `Track` holding (at least) `targets`.

    Used in: the separators' training-data readers (`unet`, `mask_cnn`, `autoencoder`; 07–11) and `comparison`.

    Args:
        track: a musdb track (read from disk now) or a (mixture, {stem: audio}, sr) tuple / `Track`.
        targets: the stems that must be there (a tuple's other stems are kept).
        what: how the messages name the track.
    Returns:
        Track with float64 arrays, every stem shaped like the mixture.
    """
    from .masks import check_audio, check_sources

    if hasattr(track, "targets") and hasattr(track, "audio"):
        return track_arrays(track, targets)
    if not (isinstance(track, (tuple, list)) and len(track) == 3 and isinstance(track[1], dict)):
        raise ValueError(f"{what} must be a musdb track (datasets.load_musdb(...).tracks) or a (mixture, stems, sr) "
                         f"tuple such as datasets.track_arrays returns; got {type(track).__name__}.")
    mixture, stems, sr = track
    missing = [name for name in targets if name not in stems]
    if missing:
        raise ValueError(f"{what} lacks the stems {missing}; it has {sorted(stems)}: read it with "
                         f"datasets.track_arrays(track, targets={list(targets)}).")
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"{what}'s sample rate must be a positive integer in Hz, got {sr!r}.")
    mixture = check_audio(mixture, f"{what}'s mixture")
    return Track(mixture, check_sources(stems, mixture), int(sr))


def remix_tracks(tracks, n_mixes, seed=0, gain_range=(0.5, 1.5)):
    """New training mixtures from a few songs: every stem from its own randomly drawn song, scaled and summed.

    Used in: 08, 09 (and scripts/train_mask_cnn.py, scripts/train_autoencoder.py): data augmentation for
    the small sample (Uhlich et al. 2017, as in Open-Unmix; `training.chunk_dataset(remix=True)` does the
    same for songs read from disk).

    With 8 songs, a model soon learns which drums go with which voice; remixed tracks pair the vocals of
    one song with the drums of another, the bass of a third, and so on, each stem scaled by a random gain.
    Each remix is a valid mixture: mixture = the sum of its stems, exactly.

    Args:
        tracks: (mixture, {stem: audio}, sr) tuples from `track_arrays`, all with the same stems and rate.
        n_mixes: how many new tracks to make.
        seed: seed of the song and gain draws.
        gain_range: (low, high) of the uniform gain per stem.
    Returns:
        list of n_mixes (mixture, {stem: audio}, sr) tuples, each as long as its shortest stem.
    """
    if not tracks or not all(isinstance(t, (tuple, list)) and len(t) == 3 and isinstance(t[1], dict) for t in tracks):
        raise ValueError("tracks must be a non-empty list of (mixture, stems, sr) tuples from datasets.track_arrays.")
    stems, rates = list(tracks[0][1]), {int(t[2]) for t in tracks}
    if len(rates) != 1 or any(list(t[1]) != stems for t in tracks):
        raise ValueError(f"All tracks need the same stems and sample rate to be remixed; got rates {sorted(rates)} "
                         f"and stems {sorted({tuple(t[1]) for t in tracks})}.")
    low, high = gain_range
    if not 0 < low <= high:
        raise ValueError(f"gain_range must be (low, high) with 0 < low <= high, got {gain_range!r}.")
    if not isinstance(n_mixes, (int, np.integer)) or n_mixes < 1:
        raise ValueError(f"n_mixes must be a positive integer, got {n_mixes!r}.")
    rng = np.random.default_rng(seed)
    remixes = []
    for _ in range(n_mixes):
        chosen = {name: tracks[rng.integers(len(tracks))][1][name] * rng.uniform(low, high) for name in stems}
        length = min(len(audio) for audio in chosen.values())
        chosen = {name: audio[:length] for name, audio in chosen.items()}
        remixes.append(Track(sum(chosen.values()), chosen, int(tracks[0][2])))
    return remixes
