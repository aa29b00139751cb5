#!/usr/bin/env bash
# The trainer's feed from the examples topic (trainer/stream), on the
# embedded broker: our Source (fetch + background Arrow decode + dedup +
# re-batching) drained by a no-op trainer, beside bare kafka-go partition
# readers fetching the same messages without decoding (the reference: what
# Kafka alone delivers here). Ratio = ours / reference.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench 'BenchmarkFeed' -benchtime "${STREAM_BENCHTIME:-3x}" ./trainer/stream/ 2>/dev/null)
train=$(go test -run '^$' -bench 'BenchmarkTrainTinyFromStream' -benchtime 1x ./trainer/stream/ 2>/dev/null)
ours=$(awk '/^BenchmarkFeedNoopTrainer/ {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}' <<<"$out")
ref=$(awk '/^BenchmarkFeedKafkaOnly/ {for (i=1;i<=NF;i++) if ($(i+1)=="tokens/s") print $i}' <<<"$out")
oursx=$(awk '/^BenchmarkFeedNoopTrainer/ {for (i=1;i<=NF;i++) if ($(i+1)=="examples/s") print $i}' <<<"$out")
if [[ -z "$ours" || -z "$ref" ]]; then
	echo "stream bench failed:"; echo "$out"; exit 1
fi
printf '%-52s %14s\n' "feed, 1024x128 LZ4 Arrow batches, 2 partitions" "tokens/s"
printf '%-52s %14.0f   (%.0f examples/s of 128)\n' "ours: Source -> no-op trainer (max feed rate)" "$ours" "$oursx"
printf '%-52s %14.0f\n' "reference: kafka-go fetch only, no decode" "$ref"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "ratio ours/reference: %.2f\n", a/b }'

ex=$(awk '/^BenchmarkTrainTinyFromStream/ {for (i=1;i<=NF;i++) if ($(i+1)=="examples/s") print $i}' <<<"$train")
st=$(awk '/^BenchmarkTrainTinyFromStream/ {for (i=1;i<=NF;i++) if ($(i+1)=="starvation") print $i}' <<<"$train")
if [[ -z "$ex" ]]; then
	echo "train-from-stream bench failed:"; echo "$train"; exit 1
fi
printf '\n%-52s %14.1f examples/s (batch 16 x 64)\n' "steady state: tiny model trained from the topic" "$ex"
awk -v s="$st" 'BEGIN { printf "%-52s %14.1f%% of step time (goal ~0)\n", "starvation (waiting for data)", 100*s }'
awk -v f="$oursx" -v t="$ex" 'BEGIN { printf "%-52s %14.0fx the trainer'"'"'s consumption\n", "feed headroom (max feed / steady state)", f/t }'
