#!/usr/bin/env bash
# Where a transform worker's CPU goes, measured finely enough to judge a
# change of a few tenths of a percent: perf samples (4 kHz, with call
# stacks, kernel included) of BenchmarkEndToEnd's timed runs only, each
# sample put in one part of the stage by its stack. End-to-end ratios of
# single runs swing by 3-5 points on a shared machine; a part's share
# here is good to about 0.3 points with 8 runs (~13,000 samples).
#
# Usage: scripts/stageprofile.sh [RUNS] [PART...]
#   RUNS  timed runs to sample (default 8)
#   PART  parts whose leading stacks to list too (e.g. fetch pack other)
# Needs perf (linux-perf) and python3; not part of make bench. Run it
# with the machine otherwise quiet, and compare two builds by their
# parts' shares and by "stage/alone" (samples per timed run over samples
# per tokenizer-alone run of the same process: the ratio's reciprocal).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-8}
shift || true
command -v perf >/dev/null || { echo "stageprofile: needs perf (apt-get install linux-perf)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "stageprofile: needs python3" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/transform.test" ./transform/
case ",${GODEBUG:-}," in
*,madvdontneed=*) ;;
*) export GODEBUG="${GODEBUG:+$GODEBUG,}madvdontneed=0" ;; # as make bench runs the stage
esac
(cd transform && perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F 4000 -g -o "$tmp/perf.data" \
	"$tmp/transform.test" -test.run '^$' -test.bench '^BenchmarkEndToEnd$' -test.benchtime 1x \
	-test.count "$runs" -transform.timedwindows >"$tmp/bench.out" 2>&1) || { cat "$tmp/bench.out"; exit 1; }
grep -o '[0-9.]* ratio' "$tmp/bench.out" | tr '\n' ' '
echo
perf script -i "$tmp/perf.data" -F pid,tid,time,ip,sym 2>/dev/null >"$tmp/perf.txt"
python3 scripts/stageprofile.py "$tmp/perf.txt" "$tmp/bench.out" "$@"
