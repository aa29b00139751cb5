package pipelines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/ingest"
	"github.com/electra-go/electra/schemas"
)

// Pipeline is one pipeline file: where Kafka is, what goes in, how it is
// tokenized and packed, what model is trained for how long, and where the
// run directory is. Zero fields take the defaults documented on them (see
// Defaults). Relative paths are relative to the pipeline file's directory,
// so a file means the same thing whatever directory it is run from.
type Pipeline struct {
	// Name labels the run in logs and metrics; default: the file name
	// without extension.
	Name    string   `yaml:"name"`
	Broker  Broker   `yaml:"broker"`
	Topics  Topics   `yaml:"topics"`
	Sources []Source `yaml:"sources"`
	// Tokenizer and packing (the transform stage).
	Tokenizer Tokenizer `yaml:"tokenizer"`
	Packing   Packing   `yaml:"packing"`
	// Model and Train configure the trainer.
	Model Model `yaml:"model"`
	Train Train `yaml:"train"`
	// Output is the run directory: checkpoints, metrics.jsonl, TensorBoard
	// events, the loss plot and (embedded broker) the broker's data.
	// Required.
	Output string `yaml:"output"`

	// File is the path the pipeline was loaded from.
	File string `yaml:"-"`
	pos  map[string]int
}

// Broker says where Kafka is: exactly one of Embedded and Brokers.
type Broker struct {
	// Embedded runs the in-process Kafka-protocol broker (single machine).
	Embedded *Embedded `yaml:"embedded"`
	// Brokers are bootstrap addresses (host:port) of a real cluster.
	Brokers []string `yaml:"brokers"`
	// Security is TLS and SASL for Brokers; see broker.Security.
	Security broker.Security `yaml:"security"`
}

// Embedded configures the in-process broker.
type Embedded struct {
	// DataDir keeps the log and committed offsets across restarts; default
	// <output>/broker.
	DataDir string `yaml:"data_dir"`
	// Port at 127.0.0.1 so other processes can join; 0 (default) picks one.
	Port int `yaml:"port"`
}

// Topics names the Kafka topics between the stages.
type Topics struct {
	// Documents: ingest -> transform; default electra.docs.v1, 4 partitions.
	Documents Topic `yaml:"documents"`
	// Examples: transform -> trainer; default electra.examples.v1, 4
	// partitions.
	Examples Topic `yaml:"examples"`
	// DeadLetters: documents ingest could not use, with the reason;
	// default electra.docs.dlq.v1, 1 partition.
	DeadLetters Topic `yaml:"dead_letters"`
}

// Topic is one topic and its partition count (used when creating it).
type Topic struct {
	Name       string `yaml:"name"`
	Partitions int    `yaml:"partitions"`
}

// Source is one corpus: a reader format and the files it reads.
type Source struct {
	// Format is an ingest reader (see `electra ingest -h`: wikipedia,
	// books, gigaword, clueweb, commoncrawl-wet, commoncrawl-warc;
	// case-insensitive). Required.
	Format string `yaml:"format"`
	// Paths are files or glob patterns. Required.
	Paths []string `yaml:"paths"`
	// Name labels the documents' source field; default: Format.
	Name string `yaml:"name"`
}

// Tokenizer is the WordPiece vocabulary.
type Tokenizer struct {
	// Vocab is a BERT vocab.txt. Required.
	Vocab string `yaml:"vocab"`
	// Lowercase (uncased models); default true.
	Lowercase *bool `yaml:"lowercase"`
}

// Packing is the reference data builder's settings.
type Packing struct {
	// MaxSeqLen is tokens per example including [CLS]/[SEP]; default 128.
	MaxSeqLen int `yaml:"max_seq_len"`
	// BatchRows is examples per Arrow batch (one Kafka message); default
	// 1024.
	BatchRows int `yaml:"batch_rows"`
	// Seed makes packing and shuffling reproducible; default 1.
	Seed int64 `yaml:"seed"`
	// ShuffleBuffer is examples held for the output shuffle; 0 = default of
	// the transform stage.
	ShuffleBuffer int `yaml:"shuffle_buffer"`
	// Workers are tokenizer goroutines; 0 = one per core.
	Workers int `yaml:"workers"`
}

// Model picks a preset: tiny, small, base or large.
type Model struct {
	Preset string `yaml:"preset"`
}

// Train is the trainer's run settings.
type Train struct {
	// Steps to train; required (> 0).
	Steps int `yaml:"steps"`
	// BatchSize examples per step; 0 = the preset's.
	BatchSize int `yaml:"batch_size"`
	// LearningRate peak; 0 = the preset's.
	LearningRate float64 `yaml:"learning_rate"`
	// WarmupSteps of linear warmup; 0 = the preset's (capped to Steps).
	WarmupSteps int `yaml:"warmup_steps"`
	// Device: auto, cpu, cuda, cuda:N; default auto.
	Device string `yaml:"device"`
	// Precision of the forward passes: fp32, bf16 (autocast) or auto (bf16
	// on CUDA, fp32 on CPU); default auto.
	Precision string `yaml:"precision"`
	// Threads for libtorch on CPU; 0 = one per core.
	Threads int `yaml:"threads"`
	// Seed for weights, masking and sampling; default 1.
	Seed int64 `yaml:"seed"`
	// CheckpointEvery steps; default 500. Kafka offsets are committed at
	// each checkpoint, so this is also the most work a crash can redo.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// KeepCheckpoints is how many recent checkpoints stay; default 3.
	KeepCheckpoints int `yaml:"keep_checkpoints"`
	// LogEvery steps a metrics line is written; default 10.
	LogEvery int `yaml:"log_every"`
	// Group is the trainer's consumer group; default electra-trainer.
	Group string `yaml:"group"`
	// Metrics is the Prometheus listen address (":9100"); empty = off.
	Metrics string `yaml:"metrics"`
	// Prefetch is decoded batches queued ahead of the step; default 8.
	Prefetch int `yaml:"prefetch"`
}

// Error is one problem in a pipeline file, located by key and line.
type Error struct {
	File string
	Line int    // 0 when the key is absent (the line of its parent is used when known)
	Key  string // dotted path: train.steps, sources[1].paths
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Key + ": " + e.Msg
}

// Load reads, decodes and validates a pipeline file. Every problem found is
// reported (errors.Join of *Error), not only the first.
func Load(path string) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return Parse(path, bytes.NewReader(b))
}

// Parse is Load from a reader; path names the file in errors and anchors
// relative paths.
func Parse(path string, r io.Reader) (*Pipeline, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: path, Msg: "empty pipeline file"}
		}
		return nil, &Error{File: path, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: doc.Line, Msg: "want a mapping of keys (name, broker, sources, ...) at the top"}
	}
	root := doc.Content[0]
	p := &Pipeline{File: path, pos: map[string]int{}}
	var errs []error
	record(root, "", p.pos)
	errs = append(errs, checkKeys(path, root, "", reflect.TypeFor[Pipeline]())...)
	// Unknown keys do not stop decoding (yaml.v3 ignores them), so a typo
	// is reported together with whatever it left missing.
	if err := root.Decode(p); err != nil {
		errs = append(errs, decodeErrors(path, err)...)
		return nil, errors.Join(errs...)
	}
	p.File = path
	p.defaults()
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// record maps every key path to the line it is written on.
func record(n *yaml.Node, prefix string, pos map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			pos[k] = n.Content[i].Line
			record(n.Content[i+1], k, pos)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", prefix, i)
			pos[k] = c.Line
			record(c, k, pos)
		}
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// checkKeys reports keys the struct does not have (a typo would otherwise
// silently leave a default in force), with the keys that would fit.
func checkKeys(file string, n *yaml.Node, prefix string, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs []error
	switch {
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			errs = append(errs, checkKeys(file, c, fmt.Sprintf("%s[%d]", prefix, i), t.Elem())...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			key := join(prefix, k.Value)
			ft, ok := fields[k.Value]
			switch {
			case !ok:
				errs = append(errs, &Error{File: file, Line: k.Line, Key: key, Msg: "unknown key; want one of " + strings.Join(names, ", ")})
			case seen[k.Value]:
				errs = append(errs, &Error{File: file, Line: k.Line, Key: key, Msg: "given twice"})
			default:
				errs = append(errs, checkKeys(file, n.Content[i+1], key, ft)...)
			}
			seen[k.Value] = true
		}
	}
	return errs
}

// decodeErrors turns yaml.v3's "line N: cannot unmarshal !!str `x` into
// int" into errors that carry the key as well.
func decodeErrors(file string, err error) []error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []error{&Error{File: file, Msg: err.Error()}}
	}
	var out []error
	for _, m := range te.Errors {
		line := 0
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if num, msg, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					line, m = n, msg
				}
			}
		}
		out = append(out, &Error{File: file, Line: line, Msg: friendlier(m)})
	}
	return out
}

func friendlier(m string) string {
	r := strings.NewReplacer("!!str", "text", "!!int", "a number", "!!float", "a number", "!!bool", "true/false", "!!seq", "a list", "!!map", "a mapping", "cannot unmarshal", "cannot use")
	return r.Replace(m)
}

// Defaults fills every zero field that has a default.
func (p *Pipeline) defaults() {
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(p.File), filepath.Ext(p.File))
	}
	def := func(t *Topic, name string, parts int) {
		if t.Name == "" {
			t.Name = name
		}
		if t.Partitions == 0 {
			t.Partitions = parts
		}
	}
	def(&p.Topics.Documents, schemas.TopicDocs, 4)
	def(&p.Topics.Examples, schemas.ExamplesSchemaName, 4)
	def(&p.Topics.DeadLetters, schemas.TopicDocsDLQ, 1)
	for i := range p.Sources {
		p.Sources[i].Format = strings.ToLower(p.Sources[i].Format)
		if p.Sources[i].Name == "" {
			p.Sources[i].Name = p.Sources[i].Format
		}
	}
	if p.Tokenizer.Lowercase == nil {
		t := true
		p.Tokenizer.Lowercase = &t
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&p.Packing.MaxSeqLen, 128)
	setInt(&p.Packing.BatchRows, 1024)
	if p.Packing.Seed == 0 {
		p.Packing.Seed = 1
	}
	if p.Model.Preset == "" {
		p.Model.Preset = "small"
	}
	if p.Train.Precision == "" {
		p.Train.Precision = "auto"
	}
	if p.Train.Device == "" {
		p.Train.Device = "auto"
	}
	if p.Train.Seed == 0 {
		p.Train.Seed = 1
	}
	setInt(&p.Train.CheckpointEvery, 500)
	setInt(&p.Train.KeepCheckpoints, 3)
	setInt(&p.Train.LogEvery, 10)
	setInt(&p.Train.Prefetch, 8)
	if p.Train.Group == "" {
		p.Train.Group = "electra-trainer"
	}
	if p.Broker.Embedded != nil && p.Broker.Embedded.DataDir == "" && p.Output != "" {
		p.Broker.Embedded.DataDir = filepath.Join(p.Output, "broker")
	}
}

// Presets are the model presets the trainer knows.
var Presets = []string{"tiny", "small", "base", "large"}

// Validate checks every field that can be checked without the network or
// the input files, and reports all problems, each naming its key and line.
func (p *Pipeline) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: p.File, Line: p.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	b := p.Broker
	switch {
	case b.Embedded != nil && len(b.Brokers) > 0:
		bad("broker", "give either embedded or brokers, not both")
	case b.Embedded == nil && len(b.Brokers) == 0:
		bad("broker", "missing: give broker.embedded (one machine) or broker.brokers (host:port list)")
	}
	for i, a := range b.Brokers {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			bad(fmt.Sprintf("broker.brokers[%d]", i), "%q is not host:port", a)
		}
	}
	if e := b.Embedded; e != nil && (e.Port < 0 || e.Port > 65535) {
		bad("broker.embedded.port", "%d is not a TCP port (0-65535)", e.Port)
	}
	if err := b.Security.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			key, _, _ := strings.Cut(line, ":")
			full := "broker.security." + strings.Fields(key)[0]
			errs = append(errs, &Error{File: p.File, Line: p.line(full), Key: "broker.security", Msg: line})
		}
	}
	if b.Embedded != nil && (b.Security.TLS != nil || b.Security.SASL != nil) {
		bad("broker.security", "the embedded broker speaks plaintext; security applies to broker.brokers")
	}
	topics := map[string]string{}
	for _, t := range []struct {
		key string
		t   Topic
	}{{"topics.documents", p.Topics.Documents}, {"topics.examples", p.Topics.Examples}, {"topics.dead_letters", p.Topics.DeadLetters}} {
		if !validTopic(t.t.Name) {
			bad(t.key+".name", "%q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", t.t.Name)
		}
		if t.t.Partitions < 1 || t.t.Partitions > 10000 {
			bad(t.key+".partitions", "%d: want 1..10000", t.t.Partitions)
		}
		if other, dup := topics[t.t.Name]; dup {
			bad(t.key+".name", "%q is also %s", t.t.Name, other)
		}
		topics[t.t.Name] = t.key
	}
	if len(p.Sources) == 0 {
		bad("sources", "missing: list at least one source (format and paths)")
	}
	for i, s := range p.Sources {
		k := fmt.Sprintf("sources[%d]", i)
		if formats := ingest.Formats(); !slices.Contains(formats, s.Format) {
			bad(k+".format", "%q: want one of %s", s.Format, strings.Join(formats, ", "))
		}
		if len(s.Paths) == 0 {
			bad(k+".paths", "missing: list the files or glob patterns to read")
		}
		for j, pat := range s.Paths {
			if _, err := filepath.Match(pat, ""); err != nil {
				bad(fmt.Sprintf("%s.paths[%d]", k, j), "%q is not a valid glob: %v", pat, err)
			}
		}
	}
	if p.Tokenizer.Vocab == "" {
		bad("tokenizer.vocab", "missing: path to a BERT vocab.txt")
	}
	if n := p.Packing.MaxSeqLen; n < 8 || n > 4096 {
		bad("packing.max_seq_len", "%d: want 8..4096", n)
	}
	if n := p.Packing.BatchRows; n < 1 || n > 1<<16 {
		bad("packing.batch_rows", "%d: want 1..65536", n)
	}
	if p.Packing.ShuffleBuffer < 0 {
		bad("packing.shuffle_buffer", "%d: want >= 0", p.Packing.ShuffleBuffer)
	}
	if p.Packing.Workers < 0 {
		bad("packing.workers", "%d: want >= 0", p.Packing.Workers)
	}
	if !slices.Contains(Presets, p.Model.Preset) {
		bad("model.preset", "%q: want one of %s", p.Model.Preset, strings.Join(Presets, ", "))
	}
	t := p.Train
	if t.Steps <= 0 {
		bad("train.steps", "%d: want a positive number of steps", t.Steps)
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"train.batch_size", t.BatchSize}, {"train.warmup_steps", t.WarmupSteps}, {"train.threads", t.Threads}} {
		if f.v < 0 {
			bad(f.key, "%d: want >= 0", f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"train.checkpoint_every", t.CheckpointEvery}, {"train.keep_checkpoints", t.KeepCheckpoints}, {"train.log_every", t.LogEvery}, {"train.prefetch", t.Prefetch}} {
		if f.v < 1 {
			bad(f.key, "%d: want >= 1", f.v)
		}
	}
	if t.LearningRate < 0 || t.LearningRate > 1 {
		bad("train.learning_rate", "%g: want 0 (preset) or a rate in (0, 1]", t.LearningRate)
	}
	switch d := strings.ToLower(t.Device); {
	case d == "auto" || d == "cpu" || d == "cuda":
	case strings.HasPrefix(d, "cuda:"):
		if _, err := strconv.Atoi(d[5:]); err != nil {
			bad("train.device", "%q: want cuda:N", t.Device)
		}
	default:
		bad("train.device", "%q: want auto, cpu, cuda or cuda:N", t.Device)
	}
	switch t.Precision {
	case "auto", "fp32", "bf16":
	default:
		bad("train.precision", "%q: want auto, fp32 or bf16", t.Precision)
	}
	if t.Metrics != "" {
		if _, _, err := net.SplitHostPort(t.Metrics); err != nil {
			bad("train.metrics", "%q is not a listen address like :9100", t.Metrics)
		}
	}
	if p.Output == "" {
		bad("output", "missing: the run directory (checkpoints, metrics, plots)")
	}
	return errors.Join(errs...)
}

// line is where key is written, or its nearest written parent.
func (p *Pipeline) line(key string) int {
	for key != "" {
		if l, ok := p.pos[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Path resolves a path from the file against the file's directory.
func (p *Pipeline) Path(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(filepath.Dir(p.File), s)
}

// Inputs expands every source's patterns into files, in a stable order.
// A pattern that matches nothing is an error naming the key and line: a
// typo in a path should not train a model on less data than intended.
func (p *Pipeline) Inputs() ([][]string, error) {
	var errs []error
	out := make([][]string, len(p.Sources))
	for i, s := range p.Sources {
		for j, pat := range s.Paths {
			key := fmt.Sprintf("sources[%d].paths[%d]", i, j)
			m, err := filepath.Glob(p.Path(pat))
			if err != nil {
				errs = append(errs, &Error{File: p.File, Line: p.line(key), Key: key, Msg: err.Error()})
				continue
			}
			if len(m) == 0 {
				errs = append(errs, &Error{File: p.File, Line: p.line(key), Key: key, Msg: fmt.Sprintf("%q matches no file (resolved against %s)", pat, filepath.Dir(p.File))})
			}
			slices.Sort(m)
			out[i] = append(out[i], m...)
		}
	}
	if p.Tokenizer.Vocab != "" {
		if _, err := os.Stat(p.Path(p.Tokenizer.Vocab)); err != nil {
			errs = append(errs, &Error{File: p.File, Line: p.line("tokenizer.vocab"), Key: "tokenizer.vocab", Msg: err.Error() + " (run `make setup` to fetch the BERT vocabulary)"})
		}
	}
	return out, errors.Join(errs...)
}

// BrokerConfig is the client configuration for a real cluster (Brokers);
// for an embedded broker use the running broker's address instead.
func (p *Pipeline) BrokerConfig() broker.Config {
	sec := p.Broker.Security
	if t := sec.TLS; t != nil {
		c := *t
		c.CA, c.Cert, c.Key = p.Path(c.CA), p.Path(c.Cert), p.Path(c.Key)
		sec.TLS = &c
	}
	return broker.Config{Brokers: p.Broker.Brokers, ClientID: "electra-" + p.Name, Security: sec}
}
