#!/usr/bin/env bash
# Train the bundled demo model: the `live` preset on Drascula's soundtrack (Debian package drascula-music,
# 31 recorded tracks, 47 min, BSD-like licence), three tracks held out for validation, then export it.
# Rerunnable: `bash recipes/demo.sh [RUN_DIR] [MINUTES]`. Needs: apt-get install drascula-music.
set -euo pipefail
run=${1:-runs/demo}
minutes=${2:-75}
audio=/usr/share/scummvm/drascula/audio
[ -d "$audio" ] || { echo "recipes/demo.sh: $audio missing; apt-get install drascula-music" >&2; exit 1; }
held_out=(track10.ogg track20.ogg track30.ogg)
train=()
for f in "$audio"/track*.ogg; do
  case " ${held_out[*]} " in *" $(basename "$f") "*) ;; *) train+=("$f") ;; esac
done
resume=()
[ -f "$run/last.pt" ] && resume=(--resume "$run")
rt-samplernn train "${train[@]}" --val-data "${held_out[@]/#/$audio/}" --preset live --out "$run" \
  "${resume[@]}" --batch-size 16 --seq-len 1024 --chunk-seconds 8 --learning-rate 0.001 \
  --eval-every 500 --val-batches 1 --early-stopping-patience 0 --num-threads 1 --max-minutes "$minutes" --seed 0
