#!/usr/bin/env bash
# Run one benchmark with the machine's background jobs paused, so that its figures are not the training's.
#   bash benchmarks/quiet.sh COMMAND [ARGS...]
# Every PID listed in the files $QUIET_PIDFILES (default: runs/*.pid and /work/runs/*.pid, one PID a file, as
# `echo $! > runs/NAME.pid` leaves them) is stopped (SIGSTOP) before the command and continued (SIGCONT) after,
# also when the command fails or is interrupted. A lock (/tmp/rt-samplernn-quiet.lock) makes benchmarks wait for
# one another. The load average before the command is printed on standard error: quote it beside the figures.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: bash benchmarks/quiet.sh COMMAND [ARGS...]" >&2; exit 2; }
exec 9>/tmp/rt-samplernn-quiet.lock
flock 9
pids=()
for f in ${QUIET_PIDFILES:-runs/*.pid /work/runs/*.pid}; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill -STOP "$pid" 2>/dev/null && pids+=("$pid")
done
resume() { for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null; done; }
trap resume EXIT
trap 'exit 130' INT TERM
sleep 1
echo "quiet.sh: paused ${#pids[@]} background job(s); $(date -u +%H:%M) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$@"
