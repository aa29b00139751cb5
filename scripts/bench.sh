#!/usr/bin/env bash
# make bench: every benchmark that compares us with a reference prints both
# figures and their ratio, measured side by side in this one run.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in scripts/bench.d/*.sh; do
	[[ -e "$b" ]] || continue
	echo "==== $(basename "$b" .sh)"
	bash "$b"
done
echo "==== go benchmarks"
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1x}" ./... 2>&1 | grep -E '^(Benchmark|ok|FAIL|---|pkg:)' || true
