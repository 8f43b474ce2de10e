#!/usr/bin/env bash
# Set up rt-samplernn on a fresh Debian (12+) machine: system packages, then a virtual environment in .venv
# holding the package, its dependencies and the test tools. Rerunnable. Afterwards: `. .venv/bin/activate`.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Audio (PortAudio, libsndfile, a JACK server for soundcard-less streaming and the tests), Qt's runtime
# libraries, the X libraries PyQt6's xcb plugin loads on a real display (found with `ldd` on libqxcb.so:
# without libxcb-icccm4/libxcb-keysyms1 the window aborts at start), Xvfb for the window test, and real
# recorded music (drascula-music) for the learning tests and the demo recipe; qemu-user runs the int8 checks
# on other x86 CPUs' kernel paths (tests/cpu_paths.py).
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends \
  python3-venv python3-pip libportaudio2 libsndfile1 jackd2 drascula-music \
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
  qemu-user libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 xvfb xauth >/dev/null
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
# torch first: 2.13.0 has a CPU build here; the project's range accepts it without pulling CUDA packages.
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q "torch>=2.2,<2.14"
.venv/bin/python -m pip install -q -e ".[test]"
echo "rt-samplernn is set up in .venv: run '. .venv/bin/activate' to use it"
