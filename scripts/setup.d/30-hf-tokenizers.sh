# HuggingFace's Rust tokenizer as a native Node binding (npm `tokenizers`,
# pinned by scripts/hf/package-lock.json): the reference that
# scripts/hf/golden.js made the committed goldens with, and that
# scripts/bench.d/tokenizer.sh races. Tests do not need it, so a failed
# install warns instead of failing setup; the bench retries it.
set -euo pipefail
[[ -f scripts/hf/node_modules/tokenizers/package.json ]] && exit 0
if ! (cd scripts/hf && npm ci --no-audit --no-fund --silent); then
	echo "[setup] npm ci in scripts/hf failed: the tokenizer bench and golden generator need it (tests do not)" >&2
fi
exit 0
