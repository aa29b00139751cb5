#!/usr/bin/env bash
# Idempotent machine setup for electra: Debian packages, Go modules, a CPU
# (or CUDA, with GOTCH_LIBTORCH) build of gotch wired in through go.work, and
# the BERT uncased vocabulary. Safe to run again; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
# libtorch-dev: libtorch 1.13.1 (CPU). libopenblas0-pthread: without it
# libtorch falls back to reference BLAS, ~25x slower matmuls.
# python3-torch: the PyTorch reference for parity tests and benchmarks.
# nodejs/npm: HuggingFace tokenizers and apache-arrow (JS) as independent
# references. bzip2/wget: real-tool fixtures.
pkgs=(libtorch-dev libopenblas0-pthread python3-torch bzip2 wget g++ make git ca-certificates)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ "${ELECTRA_SKIP_APT:-}" == 1 ]]; then
		log "missing Debian packages: ${missing[*]} (ELECTRA_SKIP_APT=1, not installing)"
	else
		log "installing Debian packages: ${missing[*]}"
		SUDO=""
		[[ $(id -u) == 0 ]] || SUDO=sudo
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi

# --- Go modules --------------------------------------------------------------
export GOWORK=off
go mod download

# --- gotch against this machine's libtorch ----------------------------------
gotch_version=$(awk '$1=="github.com/sugarme/gotch"{print $2}' go.mod | head -n1)
[[ -n "$gotch_version" ]] || { log "go.mod does not require github.com/sugarme/gotch"; exit 1; }
gotch_src=$(go mod download -json "github.com/sugarme/gotch@${gotch_version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
gotch_dst=".gotch/gotch-${gotch_version}"
go run ./scripts/gotchprep -src "$gotch_src" -dst "$gotch_dst"

want="replace github.com/sugarme/gotch ${gotch_version} => ./${gotch_dst}"
if [[ ! -f go.work ]] || ! grep -qF "$want" go.work; then
	log "writing go.work (gotch => ./${gotch_dst})"
	rm -f go.work go.work.sum
	env -u GOWORK go work init .
	env -u GOWORK go work edit -replace "github.com/sugarme/gotch@${gotch_version}=./${gotch_dst}"
fi

# --- BERT uncased vocabulary -------------------------------------------------
# Shipped inside the Go module github.com/sugarme/tokenizer@v0.3.0; fetched
# through the Go toolchain and verified, never downloaded from anywhere else.
vocab=.cache/vocab/bert-base-uncased-vocab.txt
vocab_sha=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
if [[ ! -f "$vocab" ]] || [[ $(sha256sum "$vocab" | cut -d' ' -f1) != "$vocab_sha" ]]; then
	tok_dir=$(go mod download -json github.com/sugarme/tokenizer@v0.3.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	mkdir -p "$(dirname "$vocab")"
	cp "$tok_dir/pretrained/model/bert-base-uncased-vocab.txt" "$vocab"
	chmod 644 "$vocab"
	got=$(sha256sum "$vocab" | cut -d' ' -f1)
	if [[ "$got" != "$vocab_sha" ]]; then
		rm -f "$vocab"
		log "vocab sha256 mismatch: got $got want $vocab_sha"
		exit 1
	fi
	log "vocab ready: $vocab"
fi

# --- per-room setup steps (npm references, test corpora, ...) -------------
for step in scripts/setup.d/*.sh; do
	[[ -e "$step" ]] || continue
	bash "$step" || { log "setup step $step failed"; exit 1; }
done

mkdir -p .cache && touch .cache/setup.stamp
