# Independent readers for the example datasets, used by the foreign-reader
# test in transform/: Apache Arrow's JavaScript implementation (apache-arrow,
# with lz4js registered for LZ4_FRAME IPC buffers) and hyparquet, a pure-JS
# Parquet reader that shares no code with arrow-go. Installed into
# .cache/npm-arrow/node_modules.
set -euo pipefail
dst=.cache/npm-arrow
want="apache-arrow@21.2.0 lz4js@0.2.0 hyparquet@1.33.0"
[[ -f $dst/.ready ]] && [[ $(cat "$dst/.ready") == "$want" ]] && exit 0
mkdir -p "$dst"
[[ -f $dst/package.json ]] || echo '{"name":"electra-npm-arrow","private":true}' > "$dst/package.json"
# shellcheck disable=SC2086
npm install --silent --no-audit --no-fund --prefix "$dst" $want >/dev/null
echo "$want" > "$dst/.ready"
