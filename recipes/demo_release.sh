#!/usr/bin/env bash
# Ship the demo that recipes/demo.sh trained: its weights as recipes/demo.pt (weights, config, the training
# config and how long it trained: no optimizer or training state; read with torch.load(weights_only=True),
# which runs no code), the int8 bundle exported from exactly that file (so `rt-samplernn export recipes/demo.pt`
# remakes the shipped graphs byte for byte: tests/test_demo_bundle.py checks their sha256), its music clip, the
# usable-range scan with its quiet lift, and the card (with the figures of the demo it replaces beside its own).
#   WORDS='...' bash recipes/demo_release.sh [RUN_DIR] [BEFORE]
# RUN_DIR (default runs/demo): its last.pt becomes recipes/demo.pt; without one, recipes/demo.pt is exported as
# it is. BEFORE: the replaced demo's bundle folder (measured now) or measurements.json, shown beside the new
# figures (default: the `before` the card already has). WORDS: what the user hears, for the card.
set -euo pipefail
run=${1:-runs/demo}
before=${2:-}
a=/usr/share/scummvm/drascula/audio
if [ -f "$run/last.pt" ]; then
  python - "$run/last.pt" recipes/demo.pt <<'PY'
import sys
from rt_samplernn.checkpoint import load_checkpoint, save_checkpoint, train_config_of
model, cfg, data = load_checkpoint(sys.argv[1])
save_checkpoint(sys.argv[2], model, train_config_of(data), step=int(data["step"]),
                train_seconds=float(data.get("train_seconds", 0.0)))
PY
fi
rt-samplernn export recipes/demo.pt -o rt_samplernn/models/demo --force --verify \
  --verify-audio $a/track10.ogg --verify-seconds 10 --clip $a/track2.ogg --clip-seconds 20 --range-seconds 20 \
  --audio-stats $(for n in 1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27; do echo $a/track$n.ogg; done)
python recipes/demo_card.py recipes/demo.pt rt_samplernn/models/demo --held-out track10 track20 track30 \
  --train-tracks 1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27 ${before:+--before "$before"} \
  --words "${WORDS:-}"
