package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/pipelines"
)

// pipelineFlagHelp is the help text of every stage's --pipeline flag.
const pipelineFlagHelp = "pipeline file: take brokers (and TLS/SASL), topics and this stage's settings from it; flags given on the command line win"

// applyPipeline loads a pipeline file for one stage and sets every flag the
// user did not give on the command line from it, so `electra transform
// --pipeline FILE` runs the stage exactly as `electra run FILE` would, on a
// real cluster. It returns the loaded pipeline (nil when file is empty);
// its security settings reach the stage through pipelineSecurity.
func applyPipeline(fs *flag.FlagSet, file, stage string, sourceIndex int) (*pipelines.Pipeline, error) {
	if file == "" {
		return nil, nil
	}
	p, err := pipelines.Load(file)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var brokers string
	switch {
	case len(p.Broker.Brokers) > 0:
		brokers = strings.Join(p.Broker.Brokers, ",")
	case p.Broker.Embedded != nil && p.Broker.Embedded.Port > 0:
		// `electra broker --port N --data-dir DIR` serves the same file.
		brokers = "127.0.0.1:" + strconv.Itoa(p.Broker.Embedded.Port)
	case !given["brokers"]:
		return nil, fmt.Errorf("%s: broker.embedded with port 0 cannot be reached by a separate %s process: run `electra run %s`, or set broker.embedded.port (and start `electra broker --port N`), or pass --brokers", p.File, stage, p.File)
	}
	set := map[string]string{"brokers": brokers}
	switch stage {
	case "ingest":
		if sourceIndex < 0 || sourceIndex >= len(p.Sources) {
			return nil, fmt.Errorf("%s: --pipeline-source %d: the file has sources 0..%d", p.File, sourceIndex, len(p.Sources)-1)
		}
		src := p.Sources[sourceIndex]
		inputs, err := p.Inputs()
		if err != nil {
			return nil, err
		}
		set["format"] = src.Format
		set["input"] = strings.Join(inputs[sourceIndex], ",")
		set["source"] = src.Name
		set["topic"] = p.Topics.Documents.Name
		set["dlq-topic"] = p.Topics.DeadLetters.Name
		set["partitions"] = strconv.Itoa(p.Topics.Documents.Partitions)
		// The same resume file `electra run` uses, so the two can take
		// turns on one run directory.
		runDir := p.Path(p.Output)
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: output: %w", p.File, err)
		}
		set["resume"] = filepath.Join(runDir, fmt.Sprintf("ingest-%d-%s.resume", sourceIndex, src.Name))
	case "transform":
		set["in"] = p.Topics.Documents.Name
		set["out"] = p.Topics.Examples.Name
		set["group"] = p.Name + "-transform"
		set["partitions"] = strconv.Itoa(p.Topics.Examples.Partitions)
		set["max-seq-len"] = strconv.Itoa(p.Packing.MaxSeqLen)
		set["vocab"] = p.Path(p.Tokenizer.Vocab)
		set["seed"] = strconv.FormatInt(p.Packing.Seed, 10)
		set["batch-rows"] = strconv.Itoa(p.Packing.BatchRows)
		if p.Packing.ShuffleBuffer > 0 {
			set["shuffle"] = strconv.Itoa(p.Packing.ShuffleBuffer)
		}
		if p.Packing.Workers > 0 {
			set["workers"] = strconv.Itoa(p.Packing.Workers)
		}
	case "train":
		t := p.Train
		set["topic"] = p.Topics.Examples.Name
		set["group"] = t.Group
		set["config"] = p.Model.Preset
		set["steps"] = strconv.Itoa(t.Steps)
		set["out"] = p.Path(p.Output)
		set["device"] = t.Device
		set["precision"] = t.Precision
		set["threads"] = strconv.Itoa(t.Threads)
		set["seed"] = strconv.FormatInt(t.Seed, 10)
		set["checkpoint-every"] = strconv.Itoa(t.CheckpointEvery)
		set["keep"] = strconv.Itoa(t.KeepCheckpoints)
		set["log-every"] = strconv.Itoa(t.LogEvery)
		set["metrics"] = t.Metrics
		set["prefetch"] = strconv.Itoa(t.Prefetch)
		set["seq-len"] = strconv.Itoa(p.Packing.MaxSeqLen)
		if t.BatchSize > 0 {
			set["batch"] = strconv.Itoa(t.BatchSize)
		}
		if t.LearningRate > 0 {
			set["lr"] = strconv.FormatFloat(t.LearningRate, 'g', -1, 64)
		}
		if t.WarmupSteps > 0 {
			set["warmup"] = strconv.Itoa(t.WarmupSteps)
		}
		set["resume"] = "true" // a pipeline's run directory always continues
	default:
		return nil, fmt.Errorf("applyPipeline: unknown stage %q", stage)
	}
	for name, v := range set {
		if given[name] || fs.Lookup(name) == nil {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return nil, fmt.Errorf("%s: --%s=%q from the pipeline: %w", p.File, name, v, err)
		}
	}
	return p, nil
}

// pipelineSecurity is the TLS/SASL block of p (none when p is nil or uses
// the embedded broker), with paths resolved against the file.
func pipelineSecurity(p *pipelines.Pipeline) broker.Security {
	if p == nil {
		return broker.Security{}
	}
	return p.BrokerConfig().Security
}
