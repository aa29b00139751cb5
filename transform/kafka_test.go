package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/dataset"
)

const (
	ledgerDocs   = "ledger.docs"
	ledgerOut    = "ledger.examples"
	ledgerDLQ    = "ledger.dlq"
	ledgerGroup  = "ledger-transform"
	ledgerSeed   = 5
	ledgerMaxLen = 128
	helperEnv    = "ELECTRA_TRANSFORM_HELPER_BROKERS"
)

// runLedgerWorker is one member of the transform group, as `electra
// transform` runs it, with small batches so the test has many chunks.
func runLedgerWorker(ctx context.Context, t testing.TB, brokers []string, delay time.Duration) error {
	tok := loadTok(t)
	st, err := New(Config{MaxSeqLength: ledgerMaxLen, Seed: ledgerSeed, Workers: 2, BatchRows: 16, ShuffleExamples: 48, FlushIdle: 1500 * time.Millisecond}, tok)
	if err != nil {
		return err
	}
	bc := broker.Config{Brokers: brokers}
	in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: ledgerDocs, Group: ledgerGroup, SessionTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: ledgerOut, DLQTopic: ledgerDLQ, Partitions: 2, Meta: st.Meta()})
	if err != nil {
		return err
	}
	defer out.Close()
	if delay > 0 {
		return st.Run(ctx, slowInput{in, delay}, out)
	}
	return st.Run(ctx, in, out)
}

// slowInput holds each record back, so that the member killed by the test
// still has chunks in flight when the kill comes.
type slowInput struct {
	*KafkaInput
	delay time.Duration
}

func (s slowInput) Next(ctx context.Context) (Record, error) {
	time.Sleep(s.delay)
	return s.KafkaInput.Next(ctx)
}

// TestHelperTransformWorker is not a test: TestKafkaLedger runs the test
// binary with it selected as a separate process, to kill it with SIGKILL.
func TestHelperTransformWorker(t *testing.T) {
	brokers := os.Getenv(helperEnv)
	if brokers == "" {
		t.Skip("helper process for TestKafkaLedger")
	}
	err := runLedgerWorker(context.Background(), t, strings.Split(brokers, ","), 60*time.Millisecond)
	t.Fatalf("helper worker ended: %v", err)
}

// TestKafkaLedger is the end-to-end ledger: documents in a 4-partition
// topic on the embedded broker, a transform group of two members (one a
// separate process), that process killed with SIGKILL mid-stream, a new
// member joining (two rebalances), then an export of the example topic.
// After dropping redelivered batches by batch id, the examples must equal
// exactly what the packer builds from the tokenizer's output on the same
// documents with the same seed: none lost, none twice; and every invalid
// document must be in the dead-letter topic.
func TestKafkaLedger(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in helper process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	tok := loadTok(t)
	docs := mobyDick(t, 70)

	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bc := e.Config()
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: ledgerDocs, Partitions: 4}}); err != nil {
		t.Fatal(err)
	}
	produceDocs(ctx, t, bc, docs)

	// Member A: a separate process.
	aOut := &syncBuffer{}
	a := exec.Command(os.Args[0], "-test.run=^TestHelperTransformWorker$")
	a.Env = append(os.Environ(), helperEnv+"="+strings.Join(e.Addrs(), ","))
	a.Stdout, a.Stderr = aOut, aOut
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Process.Kill()

	// Members B and C: in this process.
	var wg sync.WaitGroup
	member := func(name string) context.CancelFunc {
		mctx, mcancel := context.WithCancel(ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runLedgerWorker(mctx, t, e.Addrs(), 0); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("member %s: %v", name, err)
			}
		}()
		return mcancel
	}
	// B joins once A is working: the first rebalance.
	waitFor(ctx, t, "member A assigned partitions", func() bool { return strings.Contains(aOut.String(), "partitions assigned") })
	stopB := member("B")

	// Kill A once it owns partitions and batches flow: mid-stream, with
	// chunks in flight. (Killing it between JoinGroup and SyncGroup can
	// leave kfake waiting for it forever; real brokers expire it.)
	waitFor(ctx, t, "member A in the second generation", func() bool { return strings.Contains(aOut.String(), "generation=2") })
	time.Sleep(time.Second) // ~16 of A's records: some chunks committed, some in flight
	if err := a.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	killedAt := topicEnd(ctx, t, bc, ledgerOut)
	if strings.Contains(aOut.String(), "helper worker ended") {
		t.Fatalf("member A ended before the kill:\n%s", aOut.String())
	}

	// Member C joins after the kill: the group rebalances again.
	stopC := member("C")
	waitFor(ctx, t, "all document offsets committed", func() bool { return lag(ctx, t, bc) == 0 })
	stopB()
	stopC()
	wg.Wait()

	got, st := readLedger(ctx, t, bc, ledgerOut, func(b *schemas.ExampleBatch) error {
		if b.Meta.VocabSHA256 != tok.SHA256() || b.Meta.MaxSeqLength != ledgerMaxLen {
			return fmt.Errorf("batch meta %+v", b.Meta)
		}
		return nil
	})
	want, ref := reference(t, tok, ledgerMaxLen, ledgerSeed, docs)
	compareLedger(t, want, got)
	if st.Rows != ref.Examples {
		t.Fatalf("read %d rows after dedup, reference %d", st.Rows, ref.Examples)
	}

	// `electra export`: the same, as a dataset on disk.
	dir := filepath.Join(t.TempDir(), "export")
	est, m, err := Export(ctx, bc, ledgerOut, dir, dataset.Options{Formats: []dataset.Format{dataset.Arrow, dataset.Parquet}})
	if err != nil {
		t.Fatal(err)
	}
	if est != st || m.Rows != ref.Examples || m.VocabSHA256 != tok.SHA256() {
		t.Fatalf("export: %+v, manifest rows %d vocab %s; want %+v, %d rows", est, m.Rows, m.VocabSHA256, st, ref.Examples)
	}
	exported := map[string][]string{}
	for b, err := range dataset.Batches(dir) {
		if err != nil {
			t.Fatal(err)
		}
		addExamples(exported, b)
	}
	compareLedger(t, want, exported)

	// Dead letters: each invalid document at least once (redeliveries may
	// repeat one), located by partition and offset.
	dead := map[string]string{}
	if _, err := readAll(ctx, bc, ledgerDLQ, func(m kafka.Message) error {
		var d schemas.DeadLetter
		if err := json.Unmarshal(m.Value, &d); err != nil {
			return err
		}
		dead[fmt.Sprintf("%d/%d", d.Partition, d.KafkaOffset)] = d.Reason
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(dead) != len(invalidDocs) {
		t.Fatalf("dead letters for %d distinct records, want %d: %v", len(dead), len(invalidDocs), dead)
	}
	t.Logf("%d documents (+%d invalid) -> %d examples; %d tokens in, %d truncated by the reference rules; %d messages, %d redelivered batches dropped by id; A killed after %d batches",
		len(docs), len(invalidDocs), ref.Examples, ref.TokensIn, ref.TokensTruncate, st.Messages, st.Duplicates, killedAt)
}

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func produceDocs(ctx context.Context, t *testing.T, bc broker.Config, docs []schemas.Document) {
	tr, err := bc.Transport()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: ledgerDocs, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchBytes: broker.MaxMessageBytes, BatchTimeout: time.Millisecond, Transport: tr}
	defer w.Close()
	var msgs []kafka.Message
	for i, d := range docs {
		v, _ := json.Marshal(d)
		msgs = append(msgs, kafka.Message{Key: []byte(d.ID), Value: v})
		if i < len(invalidDocs) {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint("bad-", i)), Value: []byte(invalidDocs[i])})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func topicEnd(ctx context.Context, t *testing.T, bc broker.Config, topic string) int64 {
	cl, err := bc.Client()
	if err != nil {
		t.Fatal(err)
	}
	var reqs []kafka.OffsetRequest
	for p := 0; p < 2; p++ {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	r, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0
	}
	var n int64
	for _, p := range r.Topics[topic] {
		if p.Error == nil {
			n += p.LastOffset
		}
	}
	return n
}

// lag is the number of document records not yet committed by the group.
func lag(ctx context.Context, t *testing.T, bc broker.Config) int64 {
	cl, err := bc.Client()
	if err != nil {
		t.Fatal(err)
	}
	parts := []int{0, 1, 2, 3}
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	ends, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{ledgerDocs: reqs}})
	if err != nil {
		return -1
	}
	com, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: ledgerGroup, Topics: map[string][]int{ledgerDocs: parts}})
	if err != nil {
		return -1
	}
	committed := map[int]int64{}
	for _, p := range com.Topics[ledgerDocs] {
		committed[p.Partition] = p.CommittedOffset
	}
	var n int64
	for _, p := range ends.Topics[ledgerDocs] {
		n += p.LastOffset - max(committed[p.Partition], 0)
	}
	return n
}

func readAll(ctx context.Context, bc broker.Config, topic string, fn func(kafka.Message) error) (int, error) {
	dialer, err := bc.Dialer()
	if err != nil {
		return 0, err
	}
	cl, err := bc.Client()
	if err != nil {
		return 0, err
	}
	r, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		return 0, err
	}
	end := r.Topics[topic][0].LastOffset
	if end == 0 {
		return 0, nil
	}
	n := 0
	err = readPartition(ctx, bc, dialer, topic, 0, 0, end, func(m kafka.Message) error { n++; return fn(m) })
	return n, err
}
