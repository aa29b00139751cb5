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
#  - a warm-up run over two copies (its own topic) first grows the heap
#    and the stage's free lists to their working size, as in a worker that
#    has been running a while; the same stage and producer, as a new group
#    member, then run over the four copies, clocked from joining the group
#    to the last acknowledged batch;
#  - WordPiece alone runs over the same four copies in the same process
#    just before and just after each timed run, and each run's ratio is
#    against their mean: the load of this shared machine moves either
#    figure by 20% or more from one minute to the next. Runs where the two
#    tokenizer-alone figures differ by more than 10% (the machine's speed
#    moved during the run) are listed but left out of the median, unless
#    every run is. The result is the median over BENCHCOUNT runs (default
#    9: single runs swing by 3-5%, and a run costs about 3 s), with the
#    range. Load from other tenants only ever slows a run, so
#    the best figure of each kind over all runs is printed too, and its
#    ratio: the estimate least moved by the machine's noise.
# The broker's CPU is not counted (a Kafka cluster runs elsewhere), but it
# shares the caches with the stage here.
#
# Under the ratio: where the stage's CPU went in those timed runs, from
# CPU profiles of them (WordPiece, Arrow IPC + LZ4, the Kafka client with
# its system calls, JSON decoding, packing, the Go runtime, the rest).
#
# Then the same ratio without Kafka (BenchmarkStageParts, one core, the
# corpus once, 3 runs of 5 passes): the stage's steps in sequence on one
# goroutine, and Stage.Run with its goroutines and queues over documents in
# memory. Each pass is beside a pass of WordPiece alone. The three ratios
# together say where the end-to-end overhead comes from: the stage's own
# steps, its concurrency, or the Kafka client.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Both benchmarks run with the Go runtime setting that `electra transform`
# and `electra run` give themselves (cmd/electra/madvfree_linux.go): free
# heap pages go back to Linux with MADV_FREE, so reusing them does not
# fault. A GODEBUG that sets madvdontneed itself is left as it is.
case ",${GODEBUG:-}," in
*,\ madvdontneed=* | *,madvdontneed=*) ;;
*) export GODEBUG="${GODEBUG:+$GODEBUG,}madvdontneed=0" ;;
esac
# The median of a[1..n], for both reports below.
median='
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }'
# The timed stage runs are profiled (100 samples per CPU-second) for the
# breakdown printed under the ratio; the tokenizer-alone runs are not, so
# whatever profiling costs counts against the stage, never for it.
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT
out=$(go test -run '^$' -bench '^BenchmarkEndToEnd$' -benchtime 1x -count "${BENCHCOUNT:-9}" ./transform/ -transform.timedprofile "$prof/stage.prof" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk "$median"'
  /^BenchmarkEndToEnd/ {
    n++
    for (i = 1; i < NF; i++) {
      if ($(i+1) == "tokens/cpu-s") e = $i
      if ($(i+1) == "alone-tokens/cpu-s") t = $i
      if ($(i+1) == "alone-drift") d = $i
      if ($(i+1) == "ratio") x = $i
      if ($(i+1) == "tokens/s") w = $i
    }
    all[n] = x; ae[n] = e; at[n] = t; aw[n] = w
    if (d <= 0.10) { k++; e2e[k] = e; tok[k] = t; r[k] = x; wall[k] = w }
  }
  END {
    if (n == 0) { print "transform bench: missing figures"; exit 1 }
    if (k == 0) {
      print "transform bench: the machine speed moved by more than 10% in every run; the figures below are from all runs"
      for (i = 1; i <= n; i++) { e2e[i] = ae[i]; tok[i] = at[i]; r[i] = all[i]; wall[i] = aw[i] }
      unsteady = 1
      k = n
    }
    for (i = 1; i <= k; i++) { if (i == 1 || r[i] < lo) lo = r[i]; if (i == 1 || r[i] > hi) hi = r[i] }
    printf "tokenizer alone      %12.0f tokens/s per core\n", median(tok, k)
    printf "end to end (Kafka)   %12.0f tokens/s per core  (%.0f tokens/s wall)\n", median(e2e, k), median(wall, k)
    printf "ratio end-to-end / tokenizer = %.2f  (median of %d %sruns of %d, %.2f-%.2f; all runs %.2f; goal >= 0.70)\n", median(r, k), k, unsteady ? "" : "steady ", n, lo, hi, median(all, n)
    for (i = 1; i <= n; i++) { if (ae[i] > be) be = ae[i]; if (at[i] > bt) bt = at[i] }
    printf "best of %d runs each: end to end %.0f, alone %.0f tokens/s per core, ratio %.2f\n", n, be, bt, be / bt
  }'
# Where the stage's CPU went in those runs, from the stacks of the
# profiles' samples: each sample counts once, under the first of these
# that its stack passes through.
for f in "$prof"/stage.prof*; do go tool pprof -traces "$f" 2>/dev/null || true; done | awk '
  function flush() {
    if (ms == 0) return
    c = "rest of the stage"
    if (st ~ /wordpiece\.\(\*Tokenizer\)\.Encode/) c = "WordPiece"
    else if (st ~ /transform\.decodeDocument/) c = "JSON decoding"
    else if (st ~ /schemas\.\(\*ExamplesEncoder\)/) c = "Arrow IPC + LZ4"
    else if (st ~ /pack\.\(\*Packer\)|transform\.\(\*Stage\)\.seal/) c = "packing and shuffling"
    else if (st ~ /segmentio\/kafka-go|transform\.\(\*Kafka(Input|Output)\)/) c = "Kafka client"
    else if (st !~ /electra-go\/electra/) c = "Go runtime"
    sum[c] += ms; total += ms; ms = 0
  }
  /^-+\+-+$/ { flush(); st = ""; next }
  /^ +[0-9.]+(ms|s) / {
    v = $1; ms = (v ~ /ms$/) ? v + 0 : v * 1000
    st = $0; next
  }
  { st = st " " $0 }
  END {
    flush()
    if (total == 0) { print "transform bench: no profile samples for the breakdown"; exit 1 }
    n = split("WordPiece;Arrow IPC + LZ4;Kafka client;JSON decoding;packing and shuffling;Go runtime;rest of the stage", k, ";")
    line = ""
    for (i = 1; i <= n; i++) line = line sprintf("%s%s %.0f%%", i > 1 ? ", " : "", k[i], 100 * sum[k[i]] / total)
    printf "stage CPU (profiles of the timed runs, %.0f ms of samples): %s\n", total, line
  }' || true # the breakdown explains the ratio; without it the rest still stands
out=$(go test -run '^$' -bench '^BenchmarkStageParts/(all|run)$' -benchtime 5x -count 3 -cpu 1 ./transform/ 2>&1) || { echo "$out"; exit 1; }
echo "$out" | awk "$median"'
  /^BenchmarkStageParts\/(all|run)/ {
    k = ($1 ~ /all/) ? "all" : "run"
    for (i = 1; i < NF; i++) if ($(i+1) == "ratio") r[k, ++n[k]] = $i
  }
  END {
    if (n["all"] != 3 || n["run"] != 3) { print "transform bench: missing StageParts figures"; exit 1 }
    for (i = 1; i <= 3; i++) { a[i] = r["all", i]; b[i] = r["run", i] }
    printf "without Kafka: steps in sequence / tokenizer = %.2f; Stage.Run in memory / tokenizer = %.2f  (medians of 3)\n", median(a, 3), median(b, 3)
  }'
