# WARC ingest: MB/s of .warc.gz input (compressed bytes) on one core, ours
# beside webrecorder's warcio.js, on a real wget crawl of a loopback site
# built from the State of the Union speeches (one HTML page per speech with
# header, nav, footer and scripts around the paragraphs).
#   warcio.js         records parsed, every response's payload read
#   electra reader    the same work: records, HTTP parse, payload
#   electra docs      + charset, HTML text extraction, quality filters
#   electra ingest    the CLI end to end, --workers 1, sentence splitting,
#                     JSON lines written
#   gzip -dc          decompression alone, the floor under all of them
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null || true' EXIT
bin=bin/electra
[[ -x $bin ]] || { go build -o "$tmp/electra" ./cmd/electra; bin=$tmp/electra; }
[[ -d scripts/warcio/node_modules/warcio ]] || bash scripts/setup.d/40-warcio.sh

warc=.cache/bench/warc/sotu.warc.gz
if [[ ! -f $warc ]]; then
	site=$tmp/site
	mkdir -p "$site" "$(dirname "$warc")"
	python3 - "$site" .cache/corpora/sotu <<'PY'
import html, os, sys
site, src = sys.argv[1], sys.argv[2]
names = sorted(f for f in os.listdir(src) if f.endswith('.txt'))
links = ''.join(f'<li><a href="{n[:-4]}.html">{html.escape(n[:-4])}</a></li>' for n in names)
for n in names:
    paras = [p.strip() for p in open(os.path.join(src, n), encoding='utf-8').read().split('\n\n') if p.strip()]
    body = ''.join(f'<p>{html.escape(p)}</p>\n' for p in paras)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(n[:-4])}</title>'
            '<script>window.dataLayer=[];function track(e){dataLayer.push(e)}</script>'
            '<style>body{font-family:serif}nav li{display:inline}</style></head><body>'
            '<header><a href="index.html">State of the Union archive</a></header>'
            '<nav><ul><li><a href="index.html">Home</a></li><li><a href="index.html">Speeches</a></li></ul></nav>'
            f'<main><article><h1>{html.escape(n[:-4])}</h1>\n{body}</article></main>'
            '<footer><p>Public domain texts.</p></footer></body></html>\n')
    open(os.path.join(site, n[:-4] + '.html'), 'w', encoding='utf-8').write(page)
open(os.path.join(site, 'index.html'), 'w').write(f'<!DOCTYPE html><html><body><ul>{links}</ul></body></html>\n')
PY
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
	server=$!
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break
		sleep 0.1
	done
	wget -r -l 1 --no-verbose --no-proxy --warc-file="$tmp/sotu" -P "$tmp/mirror" "http://127.0.0.1:$port/index.html" 2>/dev/null || [[ $? == 8 ]]
	kill "$server"
	server=
	mv "$tmp/sotu.warc.gz" "$warc"
fi
size=$(stat -c %s "$warc")
mbs() { awk -v b="$size" -v s="$1" 'BEGIN { printf "%.2f", b / 1e6 / s }'; }
secs() { # command... -> wall seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
gobench() { # package benchmark -> MB/s
	ELECTRA_BENCH_WARC=$PWD/$warc go test -run '^$' -bench "^$2\$" -benchtime 3x -cpu 1 "$1" | awk '$1 ~ /^Benchmark/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") print $i }'
}

read -r _ _ records responses ws _ < <(node scripts/warcio/bench.js "$warc")
wmb=$(mbs "$ws")
rmb=$(gobench ./ingest/warc BenchmarkReader)
dmb=$(gobench ./ingest BenchmarkWebWARC)
cs=$(secs env GOMAXPROCS=1 "$bin" ingest --format commoncrawl-warc --workers 1 --progress=false --input "$warc" --sink "jsonl:$tmp/out.jsonl")
cmb=$(mbs "$cs")
docs=$(wc -l <"$tmp/out.jsonl")
gs=$(secs gzip -dc "$warc")
gmb=$(mbs "$gs")
ratio() { awk -v a="$1" -v b="$wmb" 'BEGIN { printf "%.2fx", a / b }'; }
echo "input: $warc, $((size / 1000)) kB gzip, $records records, $responses responses, $docs documents"
printf '%-44s %8s %8s\n' implementation MB/s ratio
printf '%-44s %8s %8s\n' "warcio.js 2.4.11 (records + payloads)" "$wmb" "1.00x"
printf '%-44s %8s %8s\n' "electra warc reader (records + payloads)" "$rmb" "$(ratio "$rmb")"
printf '%-44s %8s %8s\n' "electra commoncrawl-warc -> documents" "$dmb" "$(ratio "$dmb")"
printf '%-44s %8s %8s\n' "electra ingest CLI, 1 core, to JSON lines" "$cmb" "$(ratio "$cmb")"
printf '%-44s %8s %8s\n' "gzip -dc (decompression floor)" "$gmb" "$(ratio "$gmb")"
