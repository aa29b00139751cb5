package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// TestMain lets the kill -9 test run an ingest in a child process: the
// test binary re-executes itself with ELECTRA_INGEST_CHILD set.
func TestMain(m *testing.M) {
	if spec := os.Getenv("ELECTRA_INGEST_CHILD"); spec != "" {
		os.Exit(ingestChild(spec))
	}
	os.Exit(m.Run())
}

type childSpec struct {
	Brokers []string
	Topic   string
	Format  string
	Inputs  []string
	Resume  string
	Batch   int
	// KillAfterWrites > 0: the child SIGKILLs itself right after that
	// many acknowledged writes, before it can checkpoint them — the worst
	// moment to die.
	KillAfterWrites int
}

// suicidalSink kills its own process after a number of writes.
type suicidalSink struct {
	Sink
	left int
}

func (s *suicidalSink) Write(ctx context.Context, docs []schemas.Document, dead []schemas.DeadLetter) error {
	if err := s.Sink.Write(ctx, docs, dead); err != nil {
		return err
	}
	if s.left--; s.left == 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return nil
}

func ingestChild(spec string) int {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	sink, err := NewKafkaSink(ctx, KafkaSinkConfig{Broker: broker.Config{Brokers: cs.Brokers}, Topic: cs.Topic, DLQTopic: cs.Topic + ".dlq", Partitions: 3})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sink.Close()
	var s Sink = sink
	if cs.KillAfterWrites > 0 {
		s = &suicidalSink{Sink: sink, left: cs.KillAfterWrites}
	}
	sum, err := Run(ctx, Config{Format: cs.Format, Inputs: cs.Inputs, Sink: s, Resume: cs.Resume, BatchDocs: cs.Batch, Workers: 2})
	fmt.Fprintf(os.Stderr, "child summary: %s\n", sum)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// consumed is one record read back with an independent client (franz-go).
type consumed struct {
	key     string
	doc     schemas.Document
	headers map[string]string
}

// consumeTopic reads a topic from the start up to its current end offsets.
func consumeTopic(t testing.TB, addrs []string, topic string) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []consumed
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: timed out with partitions %v unread", topic, remaining)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consuming %s: %v", topic, errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			c := consumed{key: string(r.Key), headers: map[string]string{}}
			for _, h := range r.Headers {
				c.headers[h.Key] = string(h.Value)
			}
			if strings.HasSuffix(topic, "dlq.v1") || strings.HasSuffix(topic, ".dlq") {
				var d schemas.DeadLetter
				if err := json.Unmarshal(r.Value, &d); err != nil {
					t.Errorf("dead letter at %s/%d@%d: %v", topic, r.Partition, r.Offset, err)
				}
				c.doc.Text = d.Reason
			} else {
				d, err := schemas.DecodeDocument(r.Value)
				if err != nil {
					t.Errorf("record at %s/%d@%d: %v", topic, r.Partition, r.Offset, err)
				}
				c.doc = d
			}
			out = append(out, c)
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

// referenceDocs ingests to a JSON-lines file: what Kafka must hold.
func referenceDocs(t testing.TB, format string, inputs []string) map[string]schemas.Document {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ref.jsonl")
	s := NewJSONLSink(out)
	if _, err := Run(context.Background(), Config{Format: format, Inputs: inputs, Sink: s}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	m := map[string]schemas.Document{}
	for _, d := range readJSONL(t, out) {
		m[d.ID] = d
	}
	return m
}

func checkExactlyOnce(t testing.TB, got []consumed, want map[string]schemas.Document) {
	t.Helper()
	seen := map[string]int{}
	for _, c := range got {
		seen[c.key]++
		if c.key != c.doc.ID {
			t.Errorf("key %q but document id %q", c.key, c.doc.ID)
		}
		if c.headers[schemas.HeaderSchema] != schemas.DocSchemaV1 || c.headers[schemas.HeaderContentType] != schemas.ContentTypeJSON {
			t.Errorf("%s: headers %v", c.key, c.headers)
		}
		if w, ok := want[c.key]; !ok {
			t.Errorf("unexpected document %q", c.key)
		} else if !reflect.DeepEqual(c.doc, w) {
			t.Errorf("%s differs from the JSON-lines extraction", c.key)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s present %d times, want exactly once", id, seen[id])
		}
	}
}

// TestKafkaIntegration runs the embedded broker in-process, ingests all
// three formats through kafka-go, and reads the topic back with franz-go:
// every document exactly once, equal to the JSON-lines extraction.
func TestKafkaIntegration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	chapters, _ := filepath.Glob(filepath.Join(repoRoot(t), ".cache", "corpora", "moby-dick", "chapter-00*.txt"))
	if len(chapters) < 3 {
		t.Fatal("Moby-Dick chapters missing from .cache/corpora (run make setup)")
	}
	runs := []struct {
		format string
		inputs []string
	}{
		{"wikipedia", []string{smallRealDump(t, 40), "testdata/export-0.11.xml"}},
		{"books", append([]string{"testdata/pg-book.txt"}, chapters[:3]...)},
		{"gigaword", []string{"testdata/gigaword.sgml"}},
	}
	want := map[string]schemas.Document{}
	sink, err := NewKafkaSink(ctx, KafkaSinkConfig{Broker: b.Config(), Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var dead int64
	for _, r := range runs {
		for id, d := range referenceDocs(t, r.format, r.inputs) {
			want[id] = d
		}
		sum, err := Run(ctx, Config{Format: r.format, Inputs: r.inputs, Sink: sink, BatchDocs: 50})
		if err != nil {
			t.Fatalf("%s: %v", r.format, err)
		}
		dead += sumCounts(sum.Dead)
	}
	if len(want) < 45 {
		t.Fatalf("only %d reference documents", len(want))
	}
	checkExactlyOnce(t, consumeTopic(t, b.Addrs(), schemas.TopicDocs), want)
	dl := consumeTopic(t, b.Addrs(), schemas.TopicDocsDLQ)
	if int64(len(dl)) != dead || dead == 0 {
		t.Errorf("%d dead letters on %s, the runs counted %d", len(dl), schemas.TopicDocsDLQ, dead)
	}
}

// TestKill9Resume SIGKILLs a child ingest three times — right after a
// checkpoint, right after an acknowledged write that was not yet
// checkpointed (the child kills itself there), and at a random moment —
// re-runs it to completion with the same resume file, and finds every
// document in the topic exactly once.
func TestKill9Resume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	inputs := []string{"testdata/export-0.11.xml", smallRealDump(t, 40)}
	spec := childSpec{Brokers: b.Addrs(), Topic: "kill9.docs", Format: "wikipedia", Inputs: inputs, Resume: filepath.Join(dir, "resume.json"), Batch: 2}
	want := referenceDocs(t, "wikipedia", inputs)

	start := func(spec childSpec) (*exec.Cmd, *strings.Builder) {
		specJSON, _ := json.Marshal(spec)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ELECTRA_INGEST_CHILD="+string(specJSON))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	hashes := func() int64 {
		b, err := os.ReadFile(spec.Resume)
		if err != nil {
			return 0
		}
		var st resumeState
		if json.Unmarshal(b, &st) != nil {
			return 0
		}
		return st.Hashes
	}
	killed := func(round string, cmd *exec.Cmd, stderr *strings.Builder) {
		err := cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: child was not killed mid-run (%v); the test proves nothing\n%s", round, err, stderr)
		}
		t.Logf("%s: killed with %d documents checkpointed", round, hashes())
	}

	// Round 1: right after the checkpoint that passes 6 documents.
	cmd, stderr := start(spec)
	for hashes() < 6 {
		if cmd.ProcessState != nil || ctx.Err() != nil {
			t.Fatalf("child ended early:\n%s", stderr)
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	killed("after a checkpoint", cmd, stderr)

	// Round 2: between an acknowledged write and its checkpoint.
	s2 := spec
	s2.KillAfterWrites = 4
	cmd, stderr = start(s2)
	killed("between write and checkpoint", cmd, stderr)

	// Round 3: at a random moment.
	cmd, stderr = start(spec)
	for hashes() < 20 {
		if cmd.ProcessState != nil || ctx.Err() != nil {
			t.Fatalf("child ended early:\n%s", stderr)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
	cmd.Process.Signal(syscall.SIGKILL)
	killed("at a random moment", cmd, stderr)
	// Round 2 died holding one acknowledged, uncheckpointed batch of 2:
	// round 3 must have found those documents (and any round 1 left) in
	// the topic.
	var already int
	if m := regexp.MustCompile(`already_in_sink=(\d+)`).FindStringSubmatch(stderr.String()); m != nil {
		already, _ = strconv.Atoi(m[1])
	}
	if already < 2 {
		t.Errorf("round 3 did not find round 2's uncheckpointed batch in the topic:\n%s", stderr)
	}

	cmd, stderr = start(spec)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, stderr)
	}
	t.Log(strings.TrimSpace(stderr.String()))
	checkExactlyOnce(t, consumeTopic(t, b.Addrs(), spec.Topic), want)
}

// TestKafkaSinkFailsLoudly: with the broker gone, a write fails after its
// retries with an error that names the topic, the brokers and the first id,
// and Run returns it instead of carrying on.
func TestKafkaSinkFailsLoudly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewKafkaSink(ctx, KafkaSinkConfig{Broker: b.Config(), Topic: "gone.docs", DLQTopic: "gone.dlq", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	b.Close()
	_, err = Run(ctx, Config{Format: "gigaword", Inputs: []string{"testdata/gigaword.sgml"}, Sink: sink})
	if err == nil {
		t.Fatal("Run succeeded with the broker gone")
	}
	for _, want := range []string{"gone.docs", b.Addrs()[0], "gigaword:XIN_ENG_20230101.0001"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
