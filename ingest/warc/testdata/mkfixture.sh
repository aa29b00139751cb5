#!/usr/bin/env bash
# Makes wget-site.warc.gz: wget crawling site/ served over loopback by
# Python's http.server. Run from this directory; commit its output with it.
# The tests use the committed file and also redo the crawl live
# (TestWgetLive) so a wget that writes differently is noticed.
set -euo pipefail
cd "$(dirname "$0")"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory site >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break
	sleep 0.1
done
tmp=$(mktemp -d)
# wget exits 8 when a link is broken (missing.html, on purpose).
wget -r -l 2 -p --no-verbose --no-proxy --warc-file="$tmp/wget-site" -P "$tmp/mirror" "http://127.0.0.1:$port/index.html" || [[ $? == 8 ]]
mv "$tmp/wget-site.warc.gz" wget-site.warc.gz
rm -rf "$tmp"
