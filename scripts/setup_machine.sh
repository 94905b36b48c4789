#!/usr/bin/env bash
# Install everything the course needs on a fresh Debian/Ubuntu machine (Python 3.10+):
# ffmpeg (musdb needs ffmpeg/ffprobe) and python3-venv from apt, then a virtual environment
# in .venv with requirements.txt, within the tested bounds of constraints.txt. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300"

need_apt=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
python3 -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "==> apt-get install ${need_apt[*]}"
    $APT update -q
    DEBIAN_FRONTEND=noninteractive $APT install -y -q --no-install-recommends "${need_apt[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    python3 -m venv .venv
fi
echo "==> pip install -c constraints.txt -r requirements.txt (about 2.5 GB; a few minutes the first time)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -r requirements.txt
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "==> ready: $(.venv/bin/python --version), course_utils $(.venv/bin/python -c 'import course_utils; print(course_utils.__version__)')"
