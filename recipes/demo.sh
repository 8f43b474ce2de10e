#!/usr/bin/env bash
# Train the bundled demo model: Drascula's soundtrack (Debian package drascula-music, BSD-like licence), the
# rhythmic tracks only, at 8 kHz, 2 tiers. Rerunnable and resumable:
#   bash recipes/demo.sh [RUN_DIR] [MINUTES] [EXTRA TRAIN FLAGS...]
# Why this shape (benchmarks/RESULTS.md, "the demo for music"):
# - data: the 17 training tracks whose onset envelope has a beat (rhythmicity >= 0.4 by `rt-samplernn measure`),
#   a consistent set; track10, track20, track30 held out as for every earlier demo.
# - 8 kHz: each step covers twice the music at the same cost (dadabots), and playing costs half.
# - 2 tiers (16): at equal compute (8 minutes on one thread each, recipes/demo_shapes.sh, RESULTS "the demo's
#   shape, 2026-12-07") it had the best held-out NLL of the 8 kHz shapes (6.141 against 6.150-6.161 bits for
#   3 tiers, and 3 tiers with a 2048-sample TBPTT window), and one GRU tier is the cheapest to play.
# - the cosine runs over the clock (--max-steps 0 with --max-minutes): the learning rate reaches its floor
#   when the minutes end, whatever the machine's speed.
# - silent lead-ins and tails trimmed before chunking (the default now), so the all-zero start state is
#   followed by music, never by silence.
# Environment: THREADS (default 2), STEPS (the cosine schedule's length in steps; default 0: over MINUTES). A finished run
# continues with a warm restart of the cosine: MORE_STEPS (the new schedule's total length) and MORE_LR (its peak).
# When it finishes, export it with its music clip and the usable-range scan, then remake the card and compare it
# with the shipped demo by the measure (python benchmarks/sound_floor.py NEW_BUNDLE rt_samplernn/models/demo):
#   a=/usr/share/scummvm/drascula/audio
#   rt-samplernn export runs/demo/last.pt -o rt_samplernn/models/demo --force --verify \
#     --verify-audio $a/track10.ogg --verify-seconds 10 --clip $a/track2.ogg --clip-seconds 20 --range-seconds 20 \
#     --audio-stats $(for n in 1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27; do echo $a/track$n.ogg; done)
#   python recipes/demo_card.py runs/demo/last.pt rt_samplernn/models/demo
# Needs: apt-get install drascula-music.
set -euo pipefail
run=${1:-runs/demo}
minutes=${2:-600}
shift $(( $# < 2 ? $# : 2 ))
audio=/usr/share/scummvm/drascula/audio
[ -d "$audio" ] || { echo "recipes/demo.sh: $audio missing; apt-get install drascula-music" >&2; exit 1; }
held_out=(track10.ogg track20.ogg track30.ogg)
rhythmic=(1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27)
train=()
for n in "${rhythmic[@]}"; do train+=("$audio/track$n.ogg"); done
if [ -f "$run/last.pt" ]; then
  args=(--resume "$run" --max-minutes "$minutes")
  [ -n "${MORE_STEPS:-}" ] && args+=(--max-steps "$MORE_STEPS" --learning-rate "${MORE_LR:-1e-3}" --eval-every 1000)
else
  args=(--preset live --frame-sizes 16 --sample-rate 8000 "$@" --batch-size 16 --seq-len 1024
        --chunk-seconds 8 --learning-rate 0.002 --lr-schedule cosine --warmup-steps 300
        --max-steps "${STEPS:-0}" --amp --eval-every 1000 --val-batches 2 --preview-seconds 4 --early-stopping-patience 0
        --silence-fraction 0.5 --num-threads "${THREADS:-2}" --max-minutes "$minutes" --seed 0)
fi
rt-samplernn train "${train[@]}" --val-data "${held_out[@]/#/$audio/}" --out "$run" "${args[@]}"
