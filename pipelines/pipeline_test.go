package pipelines

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedPipelines: the three files we ship load and validate, and say
// what their comments claim.
func TestShippedPipelines(t *testing.T) {
	for _, tc := range []struct {
		file     string
		preset   string
		embedded bool
		sources  int
		seqLen   int
		steps    int
	}{
		{"demo.yaml", "tiny", true, 2, 64, 200},
		{"electra-small.yaml", "small", false, 2, 128, 1000000},
		{"electra-large-web.yaml", "large", false, 5, 512, 1750000},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Model.Preset != tc.preset || (p.Broker.Embedded != nil) != tc.embedded ||
				len(p.Sources) != tc.sources || p.Packing.MaxSeqLen != tc.seqLen || p.Train.Steps != tc.steps {
				t.Fatalf("%s: got preset %s embedded %v sources %d seq %d steps %d", tc.file,
					p.Model.Preset, p.Broker.Embedded != nil, len(p.Sources), p.Packing.MaxSeqLen, p.Train.Steps)
			}
		})
	}
}

// TestDemoInputsExist: the demo's globs resolve, against the file's own
// directory, to the corpora and vocab that setup installs.
func TestDemoInputsExist(t *testing.T) {
	p, err := Load("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := p.Inputs()
	if err != nil {
		t.Fatalf("%v (run make setup)", err)
	}
	if len(in[0]) < 100 || len(in[1]) < 200 {
		t.Fatalf("demo inputs: %d moby-dick chapters, %d speeches; want >= 100 and >= 200", len(in[0]), len(in[1]))
	}
	if got := p.Broker.Embedded.DataDir; got != filepath.Join("../runs/demo", "broker") {
		t.Fatalf("embedded data dir default = %q", got)
	}
	if got := p.Path(p.Output); got != "../runs/demo" {
		t.Fatalf("output resolves to %q", got)
	}
}

const valid = `name: t
broker:
  embedded: {}
sources:
  - format: books
    paths: [a/*.txt]
tokenizer:
  vocab: vocab.txt
model:
  preset: tiny
train:
  steps: 10
output: out
`

// TestValidationNamesKeyAndLine: each mistake is reported with the file,
// the line it is on and the key, so the user can jump straight to it.
func TestValidationNamesKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error, each "file:line: key: ..."
	}{
		{"typo in a key", strings.Replace(valid, "  steps: 10", "  step: 10", 1),
			[]string{"p.yaml:12: train.step: unknown key; want one of steps,", "p.yaml:11: train.steps: 0: want a positive number of steps"}},
		{"nested typo", strings.Replace(valid, "  embedded: {}", "  embeded: {}", 1),
			[]string{"p.yaml:3: broker.embeded: unknown key"}},
		{"wrong type", strings.Replace(valid, "steps: 10", "steps: ten", 1),
			[]string{"p.yaml:12: cannot use text `ten` into int"}},
		{"bad format", strings.Replace(valid, "format: books", "format: pdf", 1),
			[]string{"p.yaml:5: sources[0].format: \"pdf\": want one of books, clueweb"}},
		{"missing paths", strings.Replace(valid, "    paths: [a/*.txt]\n", "", 1),
			[]string{"p.yaml:5: sources[0].paths: missing"}},
		{"bad glob", strings.Replace(valid, "a/*.txt", "'a/[x.txt'", 1),
			[]string{"p.yaml:6: sources[0].paths[0]: \"a/[x.txt\" is not a valid glob"}},
		{"both brokers", strings.Replace(valid, "  embedded: {}", "  embedded: {}\n  brokers: [k:9092]", 1),
			[]string{"p.yaml:2: broker: give either embedded or brokers"}},
		{"no broker", strings.Replace(valid, "broker:\n  embedded: {}\n", "", 1),
			[]string{"p.yaml: broker: missing"}},
		{"bad broker address", strings.Replace(valid, "  embedded: {}", "  brokers: [kafka-1]", 1),
			[]string{"p.yaml:3: broker.brokers[0]: \"kafka-1\" is not host:port"}},
		{"preset", strings.Replace(valid, "preset: tiny", "preset: huge", 1),
			[]string{"p.yaml:10: model.preset: \"huge\": want one of tiny, small, base, large"}},
		{"literal password", strings.Replace(valid, "  embedded: {}", "  brokers: [k:9093]\n  security:\n    sasl: {mechanism: PLAIN, username: u, password: hunter2}", 1),
			[]string{"p.yaml:5: broker.security: sasl.password"}},
		{"duplicate topics", valid + "topics:\n  examples: {name: electra.docs.v1}\n",
			[]string{"p.yaml:15: topics.examples.name: \"electra.docs.v1\" is also topics.documents"}},
		{"bad topic", valid + "topics:\n  documents: {name: 'my topic', partitions: -1}\n",
			[]string{"p.yaml:15: topics.documents.name: \"my topic\" is not a Kafka topic name", "p.yaml:15: topics.documents.partitions: -1"}},
		{"device and metrics", strings.Replace(valid, "  steps: 10", "  steps: 10\n  device: tpu\n  metrics: '9100'", 1),
			[]string{"train.device: \"tpu\"", "train.metrics: \"9100\" is not a listen address"}},
		{"precision", strings.Replace(valid, "  steps: 10", "  steps: 10\n  precision: fp16", 1),
			[]string{"train.precision: \"fp16\": want auto, fp32 or bf16"}},
		{"key twice", valid + "output: again\n", []string{"p.yaml:14: output: given twice"}},
		{"not a mapping", "- a\n- b\n", []string{"p.yaml:1: want a mapping"}},
		{"bad yaml", "a: [\n", []string{"p.yaml: not valid YAML"}},
		{"empty", "", []string{"p.yaml: empty pipeline file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error is not a *pipelines.Error: %T", err)
			}
		})
	}
}

// TestDefaults: a minimal file gets the documented defaults.
func TestDefaults(t *testing.T) {
	p, err := Parse("dir/p.yaml", strings.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "t" || p.Topics.Documents.Name != "electra.docs.v1" || p.Topics.Examples.Partitions != 4 ||
		p.Packing.MaxSeqLen != 128 || p.Packing.BatchRows != 1024 || !*p.Tokenizer.Lowercase ||
		p.Train.Group != "electra-trainer" || p.Train.CheckpointEvery != 500 || p.Train.Device != "auto" ||
		p.Sources[0].Name != "books" || p.Broker.Embedded.DataDir != "out/broker" {
		t.Fatalf("defaults not applied: %+v", p)
	}
	if got := p.Path("vocab.txt"); got != "dir/vocab.txt" {
		t.Fatalf("Path = %q", got)
	}
}

func TestInputsReportsEmptyGlob(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a/2.txt", "a/1.txt", "vocab.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "p.yaml")
	y := strings.Replace(valid, "paths: [a/*.txt]", "paths: [a/*.txt, b/*.txt]", 1)
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := p.Inputs()
	if err == nil || !strings.Contains(err.Error(), "p.yaml:6: sources[0].paths[1]: \"b/*.txt\" matches no file") {
		t.Fatalf("Inputs error = %v", err)
	}
	if len(in[0]) != 2 || filepath.Base(in[0][0]) != "1.txt" {
		t.Fatalf("inputs %v, want a/1.txt a/2.txt in order", in[0])
	}
}

// FuzzParse: no input makes the loader panic, and whatever it accepts
// passes its own validation.
func FuzzParse(f *testing.F) {
	for _, s := range []string{valid, "", "a: [", "broker: {brokers: [x]}", "sources: [{format: books, paths: 3}]"} {
		f.Add(s)
	}
	for _, name := range []string{"demo.yaml", "electra-small.yaml", "electra-large-web.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse("f.yaml", strings.NewReader(s))
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted a pipeline that fails validation: %v", err)
		}
	})
}
