# electra — see README.md. Every target runs setup first; setup is idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
TESTFLAGS ?= -race -timeout 40m
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN       := bin/electra

.PHONY: setup build test demo bench lint fuzz clean help

help:
	@echo "make setup  - install Debian packages, Go modules, prepare gotch against libtorch, fetch the vocab"
	@echo "make build  - build $(BIN)"
	@echo "make test   - lint, then every test with the race detector (what CI runs)"
	@echo "make demo   - run the demo pipeline on the embedded broker"
	@echo "make bench  - benchmarks, ours beside the references, ratios printed"
	@echo "make lint   - go vet + gofmt"
	@echo "make fuzz   - run every Fuzz target for FUZZTIME (default $(FUZZTIME))"

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -ldflags "-X main.buildVersion=$(VERSION)" -o $(BIN) ./cmd/electra

lint: setup
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test: setup lint
	$(GO) test $(TESTFLAGS) $(PKGS)

demo: build
	@scripts/demo.sh

bench: build
	@scripts/bench.sh

fuzz: setup
	@scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin .gotch go.work go.work.sum
