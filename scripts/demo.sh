#!/usr/bin/env bash
# make demo. Until the pipeline lands (issue #8) this shows what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/electra version
echo
bin/electra help
