#!/usr/bin/env bash
# The recipe of the demo shipped on 2026-12-02 (16 kHz, 2 tiers, every track); recipes/demo.sh is the current one.
# Train the bundled demo model on Drascula's soundtrack (Debian package drascula-music, 31 recorded tracks,
# 47 min, BSD-like licence), three tracks held out for validation. Rerunnable and resumable:
#   bash recipes/demo_2026_12_02.sh [RUN_DIR] [MINUTES] [EXTRA TRAIN FLAGS...]
# The demo is the `live` preset made 2-tier (--frame-sizes 16): at equal wall-clock it reached a lower held-out
# NLL than the 3-tier `live` (benchmarks/RESULTS.md) and is cheaper to play. e.g. for the 3-tier model:
#   bash recipes/demo_2026_12_02.sh runs/demo-3tier 150 --frame-sizes 16 64
# Environment: PRESET (default live), THREADS (default 2), STEPS (the cosine schedule's length, default 6500).
# A finished run continues with a warm restart of the cosine: MORE_STEPS (the new schedule's total length) and
# MORE_LR (its peak). The shipped demo: STEPS=5500, then MORE_STEPS=20500 MORE_LR=5e-4 (see its model card).
# Needs: apt-get install drascula-music.
set -euo pipefail
run=${1:-runs/demo}
minutes=${2:-150}
shift $(( $# < 2 ? $# : 2 ))
audio=/usr/share/scummvm/drascula/audio
[ -d "$audio" ] || { echo "recipes/demo.sh: $audio missing; apt-get install drascula-music" >&2; exit 1; }
held_out=(track10.ogg track20.ogg track30.ogg)
train=()
for f in "$audio"/track*.ogg; do
  case " ${held_out[*]} " in *" $(basename "$f") "*) ;; *) train+=("$f") ;; esac
done
if [ -f "$run/last.pt" ]; then
  args=(--resume "$run" --max-minutes "$minutes")
  [ -n "${MORE_STEPS:-}" ] && args+=(--max-steps "$MORE_STEPS" --learning-rate "${MORE_LR:-5e-4}" --eval-every 2000)
else
  args=(--preset "${PRESET:-live}" --frame-sizes 16 "$@" --batch-size 16 --seq-len 1024 --chunk-seconds 8 --learning-rate 0.001
        --lr-schedule cosine --warmup-steps 200 --max-steps "${STEPS:-6500}" --amp
        --eval-every 1000 --val-batches 1 --early-stopping-patience 0 --num-threads "${THREADS:-2}"
        --max-minutes "$minutes" --seed 0)
fi
rt-samplernn train "${train[@]}" --val-data "${held_out[@]/#/$audio/}" --out "$run" "${args[@]}"
