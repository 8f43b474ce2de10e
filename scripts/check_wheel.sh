#!/usr/bin/env bash
# Build the wheel from this checkout, install it (not editable) into a fresh virtual environment, and play
# from it: `rt-samplernn --help`, a one-second `generate` of the bundled demo and a one-second `play` (a WAV
# when there is no sound card). Catches packaging bugs that an editable install hides. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip wheel -q --no-deps -w "$work/dist" . 2>&1 | grep -v "^WARNING: Location" || true
wheel=$(ls "$work"/dist/rt_samplernn-*.whl)
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"$work/venv/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
"$work/venv/bin/python" -m pip install -q "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
cd "$work"  # away from the checkout, so nothing is imported from the source tree
"$work/venv/bin/rt-samplernn" --help >/dev/null
"$work/venv/bin/rt-samplernn" generate --seconds 1 --out "$work/one-second.wav"
"$work/venv/bin/rt-samplernn" play --seconds 1 --device none --record "$work/played.wav" -q
"$work/venv/bin/python" -c "
import soundfile, sys
for name in ('one-second.wav', 'played.wav'):
    info = soundfile.info('$work/' + name)
    assert info.duration >= 0.99, (name, info.duration)
print('wheel check: installed', '$(basename "$wheel")', 'without -e; generate and play ran from it')
"
