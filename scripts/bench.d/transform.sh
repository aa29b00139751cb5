#!/usr/bin/env bash
# Transform throughput: end to end (documents in a topic of the embedded
# broker -> examples acknowledged in the example topic, offsets committed)
# beside the tokenizer alone on the same text, both as tokens per CPU-second
# (per core used), and their ratio, best of BENCHCOUNT (default 3) runs.
# Both run on one core. Goal: ratio >= 0.7.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench '^(BenchmarkTokenizerAlone|BenchmarkEndToEnd)$' -benchtime 1x -count "${BENCHCOUNT:-3}" ./transform/ 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  # Best of the runs: the machine is shared, and interference only slows.
  /^BenchmarkTokenizerAlone/ { for (i = 1; i < NF; i++) if ($(i+1) == "tokens/cpu-s" && $i > tok) tok = $i }
  /^BenchmarkEndToEnd/       { for (i = 1; i < NF; i++) { if ($(i+1) == "tokens/cpu-s" && $i > e2e) e2e = $i; if ($(i+1) == "tokens/s" && $i > wall) wall = $i } }
  END {
    if (tok == "" || e2e == "") { print "transform bench: missing figures"; exit 1 }
    printf "tokenizer alone      %12.0f tokens/s per core\n", tok
    printf "end to end (Kafka)   %12.0f tokens/s per core  (%.0f tokens/s wall)\n", e2e, wall
    printf "ratio end-to-end / tokenizer = %.2f  (goal >= 0.70)\n", e2e / tok
  }'
