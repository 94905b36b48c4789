"""The install: pyproject.toml keeps Colab's preinstalled packages, the three dependency lists agree, nothing unused
is listed, and `import course_utils` works without ffmpeg."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEPENDENCIES = [Requirement(line) for line in PYPROJECT["dependencies"]]

# What Colab preinstalls (late 2026). pandas, scipy, matplotlib, tqdm and kaggle were not looked up again: these
# are the versions Colab shipped in 2025, older than today's, so they test the minimums at least as hard.
COLAB = {
    "python": "3.13",
    "numpy": "2.1.3",
    "scipy": "1.15.3",
    "pandas": "2.2.2",
    "matplotlib": "3.10.0",
    "scikit-learn": "1.6.1",
    "librosa": "0.11.0",
    "soundfile": "0.14.0",
    "ipywidgets": "7.7.1",
    "tqdm": "4.67.1",
    "kaggle": "1.7.4.5",
    "tensorflow": "2.20.0",
    "keras": "3.13.2",
}
COLAB_MARKERS = {"python_version": COLAB["python"], "python_full_version": COLAB["python"] + ".0",
                 "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
HEAVY = ("python", "tensorflow", "keras")  # not installed into the scratch environment of the dry run
# Import name of each dependency whose module is named differently.
MODULES = {"scikit-learn": "sklearn"}


def _requirement_lines(path):
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def test_colab_versions_satisfy_every_requirement():
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(COLAB["python"])
    for requirement in DEPENDENCIES:
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate(COLAB_MARKERS):
            continue
        if name in COLAB:
            assert requirement.specifier.contains(COLAB[name], prereleases=True), \
                f"{requirement} would replace Colab's {name} {COLAB[name]}"


def test_no_upper_bounds_and_no_tensorflow_in_the_package():
    """An upper bound fails as soon as Colab moves on (librosa 1.0); TensorFlow must stay Colab's own build."""
    for requirement in DEPENDENCIES:
        assert {spec.operator for spec in requirement.specifier} <= {">=", ">", "!="}, \
            f"{requirement}: only minimum versions here; bounds of the tested local environment go to constraints.txt"
        assert canonicalize_name(requirement.name) not in {"tensorflow", "tensorflow-cpu", "keras"}


def test_every_dependency_is_imported():
    sources = [path.read_text() for folder in ("course_utils", "scripts") for path in (ROOT / folder).glob("*.py")]
    sources += [cell.source for path in (ROOT / "notebooks").glob("*.ipynb")
                for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    code = "\n".join(sources)
    for requirement in DEPENDENCIES:
        module = MODULES.get(requirement.name, requirement.name)
        assert re.search(rf"^\s*(import|from) {module}\b", code, re.MULTILINE), \
            f"{requirement.name} is listed in pyproject.toml but never imported: remove it"


def test_the_three_lists_agree():
    """requirements.txt installs the package (its lists are pyproject's) plus TensorFlow; environment.yml uses
    requirements.txt; constraints.txt bounds only packages that these name."""
    requirements = [Requirement(line) for line in _requirement_lines(ROOT / "requirements.txt") if line != "-e .[dev]"]
    assert "-e .[dev]" in _requirement_lines(ROOT / "requirements.txt")
    assert {r.name for r in requirements} == {"tensorflow-cpu", "tensorflow", "keras"}
    environment = (ROOT / "environment.yml").read_text()
    assert re.search(r"- pip:\n\s+- -c constraints\.txt\n\s+- -r requirements\.txt\n", environment)
    listed = {canonicalize_name(r.name) for r in DEPENDENCIES + requirements}
    listed |= {canonicalize_name(Requirement(line).name) for line in PYPROJECT["optional-dependencies"]["dev"]}
    for line in _requirement_lines(ROOT / "constraints.txt"):
        constraint = Requirement(line)
        assert canonicalize_name(constraint.name) in listed, f"constraints.txt bounds {constraint.name}, listed nowhere"
        assert {spec.operator for spec in constraint.specifier} <= {"<", "<=", "==", "!="}, line
    setup = (ROOT / "scripts" / "setup_machine.sh").read_text()
    assert "pip install -q -c constraints.txt -r requirements.txt" in setup


def _pip(*args, python=None):
    """This environment's pip, acting on the environment of `python` if given (which needs no pip of its own)."""
    target = ["--python", str(python)] if python else []
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *target, *args],
                          capture_output=True, text=True, timeout=600)


def _skip_offline(done):
    if done.returncode:
        pytest.skip(f"cannot install Colab's versions from the package registry: {done.stderr.strip()[-200:]}")


def test_pip_install_keeps_colab_versions(tmp_path):
    """A real `pip install --dry-run` of the package into a venv holding Colab's versions of the light packages.

    pip resolves for this machine's Python (3.11 here, 3.13 on Colab), so this proves that the package and its
    dependencies keep those versions on this Python; markers are checked for 3.13 by the static test above.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in COLAB.items() if name not in HEAVY]
    _skip_offline(_pip("install", "-q", "--no-deps", "--no-compile", *pins, python=python))
    package = tmp_path / "package"  # a copy, so that building the package's metadata writes nothing into the repository
    shutil.copytree(ROOT / "course_utils", package / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, package / name)
    report = tmp_path / "report.json"
    dry_run = _pip("install", "-q", "--dry-run", "--report", str(report), str(package), python=python)
    assert dry_run.returncode == 0, dry_run.stderr[-2000:]
    to_install = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                  for item in json.loads(report.read_text())["install"]}
    assert "course-utils" in to_install
    replaced = {name: (COLAB[name], to_install[name]) for name in COLAB if name in to_install}
    assert not replaced, f"pip would replace Colab's packages (Colab's version, pip's choice): {replaced}"


def test_widgets_work_with_colabs_ipywidgets(tmp_path):
    """The widget tests of tests/test_audio.py pass with Colab's ipywidgets 7 in front of this environment's 8."""
    widgets7 = tmp_path / "ipywidgets7"
    _skip_offline(_pip("install", "-q", "--no-deps", "--no-compile", "--target", str(widgets7),
                       f"ipywidgets=={COLAB['ipywidgets']}", "widgetsnbextension~=3.6.0", "ipython_genutils~=0.2.0"))
    env = dict(os.environ, PYTHONPATH=str(widgets7))
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_audio.py"), "-k", "widget or interactive",
               "-n", "0", "-q", "-p", "no:cacheprovider"]
    version = subprocess.run([sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__)"], env=env,
                             capture_output=True, text=True)
    assert version.stdout.strip() == COLAB["ipywidgets"], version.stderr
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-2000:]


NO_FFMPEG = textwrap.dedent("""
    import json, sys
    import course_utils as cu
    from course_utils import features
    loaded = sorted(m for m in ("tensorflow", "keras", "musdb", "museval", "stempeg") if m in sys.modules)
    files = cu.list_speaker_files(cu.speakers_root("sample"))
    audio = cu.load_speaker_file(files["path"].iloc[0])
    summary = features.mfcc_summary(audio, cu.SPEAKER_SR)
    try:
        cu.require_ffmpeg()
    except RuntimeError as err:
        expected = str(err)
    try:
        cu.load_musdb("sample")
        music = "loaded"
    except RuntimeError as err:
        music = str(err)
    print(json.dumps({"loaded": loaded, "files": len(files), "summary": summary.shape, "expected": expected,
                      "music": music}))
""")


def test_import_and_speaker_features_without_ffmpeg(tmp_path):
    """The speaker notebooks need no ffmpeg: the package imports, reads a clip and computes its features; music
    without ffmpeg stops with require_ffmpeg()'s message."""
    env = dict(os.environ, PATH=str(tmp_path), COURSE_CACHE_DIR=str(tmp_path / "cache"))
    assert shutil.which("ffmpeg", path=env["PATH"]) is None and shutil.which("ffprobe", path=env["PATH"]) is None
    done = subprocess.run([sys.executable, "-c", NO_FFMPEG], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], "importing course_utils must not load TensorFlow or the music libraries"
    assert result["files"] > 0 and result["summary"][0] > 0
    assert "ffmpeg" in result["expected"] and result["music"] == result["expected"]
