# WordPiece: ours (electra tokenize, single core and all cores) against
# HuggingFace's Rust tokenizer through its npm binding (encodeBatch, large
# batches, RAYON_NUM_THREADS=1), on the same text in one run, checking that
# both wrote identical ids. Ours is timed end to end (reading, tokenizing,
# formatting, writing); HF's only inside encodeBatch.
set -euo pipefail
vocab=.cache/vocab/bert-base-uncased-vocab.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=bin/electra
[[ -x $bin ]] || { go build -o "$tmp/electra" ./cmd/electra; bin=$tmp/electra; }
[[ -d scripts/hf/node_modules/tokenizers ]] || (cd scripts/hf && npm ci --no-audit --no-fund --silent)

# Two inputs: long paragraphs (Moby-Dick + State of the Union speeches, one
# paragraph per line) and the golden corpus (short, mixed-script lines).
cat .cache/corpora/moby-dick/*.txt .cache/corpora/sotu/*.txt | grep -v '^$' > "$tmp/prose.txt"
gzip -dc transform/wordpiece/testdata/lines.txt.gz > "$tmp/golden.txt"

rate() { # bytes tokens seconds -> "MB/s tokens/s"
	awk -v b="$1" -v t="$2" -v s="$3" 'BEGIN { printf "%.2f %.0f\n", b / 1e6 / s, t / s }'
}
ours() { # input workers -> "bytes tokens seconds"
	GOMAXPROCS=$([[ $2 == 1 ]] && echo 1 || nproc) "$bin" tokenize --vocab "$vocab" --input "$1" --workers "$2" --stats 2>&1 >"$tmp/ours.ids" |
		sed -n 's/^tokenize: [0-9]* lines, \([0-9]*\) bytes, \([0-9]*\) tokens in \([0-9.]*\)s.*/\1 \2 \3/p'
}

printf '%-8s %-28s %10s %12s %8s\n' input implementation MB/s tokens/s ratio
for name in prose golden; do
	in=$tmp/$name.txt
	read -r hb _ ht hs < <(RAYON_NUM_THREADS=1 node scripts/hf/bench.js "$vocab" "$in" "$tmp/hf.ids" | awk '$1=="hf"{print $2, $3, $4, $5}')
	read -r hmb htps < <(rate "$hb" "$ht" "$hs")
	read -r ob ot os < <(ours "$in" 1)
	read -r omb otps < <(rate "$ob" "$ot" "$os")
	same=no
	cmp -s "$tmp/hf.ids" "$tmp/ours.ids" && same=yes
	read -r ab at as < <(ours "$in" 0)
	read -r amb atps < <(rate "$ab" "$at" "$as")
	printf '%-8s %-28s %10s %12s %8s\n' "$name" "hf tokenizers (1 core)" "$hmb" "$htps" "1.00x"
	printf '%-8s %-28s %10s %12s %8s\n' "$name" "electra (1 core)" "$omb" "$otps" "$(awk -v a="$omb" -v b="$hmb" 'BEGIN{printf "%.2fx", a/b}')"
	printf '%-8s %-28s %10s %12s %8s\n' "$name" "electra ($(nproc) cores)" "$amb" "$atps" "$(awk -v a="$amb" -v b="$hmb" 'BEGIN{printf "%.2fx", a/b}')"
	echo "$name: identical ids (electra 1 core vs hf): $same"
done
