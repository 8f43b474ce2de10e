#!/usr/bin/env bash
# Short runs that decide the demo's shape (issue 25): each shape trains for MINUTES on one thread, two at a time
# (equal compute, side by side), on recipes/demo.sh's data (the 17 rhythmic Drascula tracks, 3 held out), with
# evaluations and 6-s previews every EVAL steps. Then `python recipes/demo_shapes.py runs/shapes` prints the table
# (held-out NLL, training NLL, the previews' rhythmicity and verdicts).
#   bash recipes/demo_shapes.sh [OUT_DIR] [MINUTES] [SHAPE ...]     shapes: see the case below
set -euo pipefail
out=${1:-runs/shapes}
minutes=${2:-8}
shift $(( $# < 2 ? $# : 2 ))
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(base8k-3tier 8k-2tier 8k-3tier-seq2048 16k-2tier)
audio=/usr/share/scummvm/drascula/audio
[ -d "$audio" ] || { echo "recipes/demo_shapes.sh: $audio missing; apt-get install drascula-music" >&2; exit 1; }
train=()
for n in 1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27; do train+=("$audio/track$n.ogg"); done
held_out=("$audio/track10.ogg" "$audio/track20.ogg" "$audio/track30.ogg")
flags_of() {
  case "$1" in
    base8k-3tier) echo "--frame-sizes 16 64 --sample-rate 8000 --seq-len 1024 --learning-rate 0.002" ;;
    8k-2tier) echo "--frame-sizes 16 --sample-rate 8000 --seq-len 1024 --learning-rate 0.002" ;;
    8k-3tier-seq2048) echo "--frame-sizes 16 64 --sample-rate 8000 --seq-len 2048 --batch-size 8 --learning-rate 0.002" ;;
    8k-3tier-lr1e-3) echo "--frame-sizes 16 64 --sample-rate 8000 --seq-len 1024 --learning-rate 0.001" ;;
    8k-3tier-top128) echo "--frame-sizes 16 128 --sample-rate 8000 --seq-len 1024 --learning-rate 0.002" ;;
    16k-2tier) echo "--frame-sizes 16 --sample-rate 16000 --seq-len 1024 --learning-rate 0.002" ;;
    *) echo "recipes/demo_shapes.sh: unknown shape $1" >&2; exit 1 ;;
  esac
}
run_one() {
  local shape=$1
  # shellcheck disable=SC2046
  rt-samplernn train "${train[@]}" --val-data "${held_out[@]}" --out "$out/$shape" --force --quiet \
    --preset live --batch-size 16 $(flags_of "$shape") --chunk-seconds 8 --lr-schedule cosine --warmup-steps 100 \
    --max-minutes "$minutes" --amp --eval-every "${EVAL:-250}" --val-batches 2 --preview-seconds 6 \
    --early-stopping-patience 0 --silence-fraction 0.5 --num-threads 1 --seed 0 > "$out/$shape.log" 2>&1
}
mkdir -p "$out"
for ((i = 0; i < ${#shapes[@]}; i += 2)); do
  run_one "${shapes[i]}" &
  [ $((i + 1)) -lt ${#shapes[@]} ] && run_one "${shapes[i + 1]}" &
  wait
done
