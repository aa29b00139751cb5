# webrecorder's warcio.js (npm `warcio`, pinned by scripts/warcio/
# package-lock.json): the reference WARC reader scripts/bench.d/warc.sh
# races. Tests do not need it.
set -euo pipefail
[[ -f scripts/warcio/node_modules/warcio/package.json ]] && exit 0
(cd scripts/warcio && npm ci --no-audit --no-fund --silent)
