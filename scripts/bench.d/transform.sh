#!/usr/bin/env bash
# Transform throughput per core: end to end (documents in a topic of the
# embedded broker, in its own process -> consumer-group member -> tokenize,
# pack, shuffle, Arrow IPC + LZ4 -> examples produced with acks=all ->
# offsets committed) against WordPiece alone on the same text, both as
# tokens per CPU-second on one core (GOMAXPROCS 1, one tokenizer
# goroutine), and their ratio. Goal: ratio >= 0.70.
#
# How BenchmarkEndToEnd (transform/bench_test.go) measures:
#  - the corpus (Moby-Dick and the State of the Union speeches, 12 MB,
#    2.4M tokens) four times over, each copy with its own document ids:
#    ~0.6 s of CPU per run, a steady state rather than start-up;
#  - a warm-up stage over one copy (its own topic) first grows the heap to
#    its working size, as in a worker that has been running a while; the
#    timed stage is a new group member over the four copies, clocked from
#    joining the group to the last acknowledged batch;
#  - WordPiece alone runs over the same four copies in the same process
#    just before each timed run, and each run's ratio pairs the two: the
#    load of this shared machine moves either figure by 20% from one
#    minute to the next. The result is the median over BENCHCOUNT runs
#    (default 5), with the range.
# The broker's CPU is not counted (a Kafka cluster runs elsewhere), but it
# shares the caches with the stage here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench '^BenchmarkEndToEnd$' -benchtime 1x -count "${BENCHCOUNT:-5}" ./transform/ 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  /^BenchmarkEndToEnd/ {
    n++
    for (i = 1; i < NF; i++) {
      if ($(i+1) == "tokens/cpu-s") e2e[n] = $i
      if ($(i+1) == "alone-tokens/cpu-s") tok[n] = $i
      if ($(i+1) == "ratio") r[n] = $i
      if ($(i+1) == "tokens/s") wall[n] = $i
    }
    if (n == 1 || r[n] < lo) lo = r[n]
    if (n == 1 || r[n] > hi) hi = r[n]
  }
  END {
    if (n == 0) { print "transform bench: missing figures"; exit 1 }
    printf "tokenizer alone      %12.0f tokens/s per core (median of %d)\n", median(tok, n), n
    printf "end to end (Kafka)   %12.0f tokens/s per core  (%.0f tokens/s wall)\n", median(e2e, n), median(wall, n)
    printf "ratio end-to-end / tokenizer = %.2f  (median of %d runs, %.2f-%.2f; goal >= 0.70)\n", median(r, n), n, lo, hi
  }'
