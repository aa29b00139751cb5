# HuggingFace's Rust tokenizer as a native Node binding (npm `tokenizers`,
# pinned by scripts/hf/package-lock.json): the reference that
# scripts/hf/golden.js made the committed goldens with, and that
# scripts/bench.d/tokenizer.sh races. Tests do not need it.
set -euo pipefail
[[ -f scripts/hf/node_modules/tokenizers/package.json ]] && exit 0
(cd scripts/hf && npm ci --no-audit --no-fund --silent)
