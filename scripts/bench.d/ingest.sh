#!/usr/bin/env bash
# Ingest throughput in MB/s of raw (stored) input, ours beside a reference
# measured in the same run:
#  - bz2 decoding alone: the C bzip2 tool (1 core) vs Go's compress/bzip2
#    serially vs our multistream reader decoding streams in parallel;
#  - each format end to end through `electra ingest --sink jsonl` on one
#    core (GOMAXPROCS=1, --workers 1), beside just decompressing/reading the
#    same input (bzip2 -dc / cat) — the floor any reader pays.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=bin/electra
[[ -x $bin ]] || { go build -o "$tmp/electra" ./cmd/electra; bin=$tmp/electra; }
dump=$(ls ../shared/data/wikipedia/*.bz2 | head -n1)

echo "-- bz2 decode of a multistream Wikipedia dump ($(nproc) cores)"
out=$(go test -run '^$' -bench 'BenchmarkBz2Decode' -benchtime "${INGEST_BENCHTIME:-3x}" ./ingest/ 2>/dev/null)
mbs() { awk -v n="$1" '$1 ~ n {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}' <<<"$out"; }
ref=$(mbs 'bzip2-tool'); ser=$(mbs 'serial'); par=$(mbs 'multistream-parallel')
if [[ -z "$ref" || -z "$ser" || -z "$par" ]]; then echo "bz2 bench failed:"; echo "$out"; exit 1; fi
printf '%-44s %8s %8s\n' "decoder" "MB/s" "ratio"
printf '%-44s %8.2f %8s\n' "reference: bzip2 -dc (C, 1 core)" "$ref" "1.00x"
printf '%-44s %8.2f %8s\n' "ours: compress/bzip2, serial" "$ser" "$(awk -v a="$ser" -v b="$ref" 'BEGIN{printf "%.2fx", a/b}')"
printf '%-44s %8.2f %8s\n' "ours: multistream, streams in parallel" "$par" "$(awk -v a="$par" -v b="$ref" 'BEGIN{printf "%.2fx", a/b}')"

# Inputs: the real Wikipedia excerpt; Moby-Dick as one Gutenberg-style
# book; State of the Union speeches laid out as Gigaword SGML.
{ echo "*** START OF THE PROJECT GUTENBERG EBOOK MOBY-DICK ***"; cat .cache/corpora/moby-dick/*.txt; echo "*** END OF THE PROJECT GUTENBERG EBOOK MOBY-DICK ***"; } > "$tmp/moby-dick.txt"
n=0
for f in .cache/corpora/sotu/*.txt; do
	n=$((n + 1))
	printf '<DOC id="SOTU_ENG_%05d" type="story" >\n<HEADLINE>\n%s\n</HEADLINE>\n<TEXT>\n' "$n" "$(basename "$f" .txt)"
	awk 'BEGIN{RS=""} {gsub(/&/,"\\&amp;"); gsub(/</,"\\&lt;"); print "<P>\n" $0 "\n</P>"}' "$f"
	printf '</TEXT>\n</DOC>\n'
done > "$tmp/sotu.sgml"

echo
echo "-- electra ingest --sink jsonl, 1 core (GOMAXPROCS=1 --workers 1)"
printf '%-10s %8s %-30s %8s %-26s %8s\n' format "in MB" "reference" "MB/s" "ours" "MB/s"
one() { # format input reference-command...
	local format=$1 input=$2; shift 2
	local size s0 s1 refmbs line ours
	size=$(stat -c %s "$input")
	s0=$(date +%s.%N); "$@" >/dev/null; s1=$(date +%s.%N)
	refmbs=$(awk -v b="$size" -v a="$s0" -v c="$s1" 'BEGIN{printf "%.2f", b/1e6/(c-a)}')
	line=$(GOMAXPROCS=1 "$bin" ingest --format "$format" --input "$input" --workers 1 --progress=false --sink "jsonl:$tmp/$format.jsonl" 2>&1 | grep '^ingest:')
	ours=$(sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' <<<"$line")
	printf '%-10s %8.1f %-30s %8s %-26s %8s   ratio %s\n' "$format" "$(awk -v b="$size" 'BEGIN{print b/1e6}')" "${*:1:$#-1} $(basename "${!#}")" "$refmbs" "ingest" "$ours" \
		"$(awk -v a="$ours" -v b="$refmbs" 'BEGIN{printf "%.3fx", a/b}')"
	echo "           $(sed 's/^ingest: //' <<<"$line" | cut -c1-160)"
}
one wikipedia "$dump" bzip2 -dc "$dump"
one books "$tmp/moby-dick.txt" cat "$tmp/moby-dick.txt"
one gigaword "$tmp/sotu.sgml" cat "$tmp/sotu.sgml"

echo
echo "-- where the time goes (go benchmarks, 1 core)"
go test -run '^$' -bench 'BenchmarkRead|BenchmarkSplitter' -cpu 1 -benchtime "${INGEST_BENCHTIME:-3x}" ./ingest/ 2>/dev/null | grep -E '^Benchmark' || true
