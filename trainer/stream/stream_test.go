package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/metrics"
)

const testSeqLen = 8

// rowID is what the first token of every test example encodes: which
// partition, message and row it came from, so a test can read the order.
func rowID(p, m, r int) int32 { return int32(p*1_000_000 + m*1000 + r) }

// embeddedTopic starts an in-memory embedded broker for the test's
// lifetime and creates topic with parts partitions on it.
func embeddedTopic(t testing.TB, ctx context.Context, topic string, parts int) broker.Config {
	t.Helper()
	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cfg := e.Config()
	if err := broker.EnsureTopics(ctx, cfg, []broker.TopicSpec{{Name: topic, Partitions: parts}}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fill produces msgs messages of rows examples to every partition, each
// with a batch-id header like transform's, and returns the broker config.
func fill(t testing.TB, ctx context.Context, parts, msgs, rows int) (broker.Config, string) {
	t.Helper()
	topic := "examples-test"
	cfg := embeddedTopic(t, ctx, topic, parts)
	for p := range parts {
		for m := range msgs {
			produce(t, ctx, cfg, topic, p, fmt.Sprintf("p%d-m%d", p, m), batch(p, m, rows))
		}
	}
	return cfg, topic
}

func batch(p, m, rows int) []schemas.Example {
	var ex []schemas.Example
	for r := range rows {
		n := 3 + (p+m+r)%(testSeqLen-3) // lengths vary; padding must be right
		ids := make([]int32, n)
		segs := make([]int8, n)
		ids[0] = rowID(p, m, r)
		for i := 1; i < n; i++ {
			ids[i] = int32(100 + i)
		}
		segs[n-1] = 1
		ex = append(ex, schemas.Example{InputIDs: ids, SegmentIDs: segs, DocID: fmt.Sprintf("d%d", r), Source: "test"})
	}
	return ex
}

func produce(t testing.TB, ctx context.Context, cfg broker.Config, topic string, p int, batchID string, ex []schemas.Example) {
	t.Helper()
	value := []byte("not arrow")
	if ex != nil {
		v, err := schemas.EncodeExamplesMessage(schemas.ExamplesMeta{MaxSeqLength: testSeqLen, Tokenizer: "test"}, ex)
		if err != nil {
			t.Fatal(err)
		}
		value = v
	}
	produceValue(t, ctx, cfg, topic, p, batchID, value)
}

// produceValue writes one message to partition p with a batch-id header.
func produceValue(t testing.TB, ctx context.Context, cfg broker.Config, topic string, p int, batchID string, value []byte) {
	t.Helper()
	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: topic, Transport: tr, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return p })}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: value, Headers: []kafka.Header{{Key: schemas.ExamplesHeaderBatchID, Value: []byte(batchID)}}}); err != nil {
		t.Fatal(err)
	}
}

// firstTokens is the order of examples in a batch, by their first token.
func firstTokens(b trainer.Batch) []int32 {
	out := make([]int32, b.Size)
	for i := range b.Size {
		out[i] = b.IDs[i*b.SeqLen]
	}
	return out
}

func open(t testing.TB, ctx context.Context, cfg broker.Config, topic, group string, bs int, pos trainer.Position, prom *metrics.Prom) *Source {
	t.Helper()
	s, err := Open(ctx, Config{Broker: cfg, Topic: topic, Group: group, BatchSize: bs, PartitionWait: -1, SessionTimeout: 6 * time.Second, Prom: prom}, pos)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expectedOrder is the round-robin, message-at-a-time order over the
// partitions: the contract the reproducibility rests on.
func expectedOrder(parts, msgs, rows int) []int32 {
	var out []int32
	for m := range msgs {
		for p := range parts {
			for r := range rows {
				out = append(out, rowID(p, m, r))
			}
		}
	}
	return out
}

// TestOrderAndRebatching: batches of 7 from messages of 5 rows over 3
// partitions come in round-robin order, rows intact, padding intact.
func TestOrderAndRebatching(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const parts, msgs, rows, bs = 3, 6, 5, 7
	cfg, topic := fill(t, ctx, parts, msgs, rows)
	s := open(t, ctx, cfg, topic, "g-order", bs, "", nil)
	defer s.Close()
	want := expectedOrder(parts, msgs, rows)
	var got []int32
	for range len(want) / bs {
		b, _, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Size != bs || b.SeqLen != testSeqLen || len(b.IDs) != bs*testSeqLen || len(b.Lengths) != bs {
			t.Fatalf("batch shape %d x %d (%d ids, %d lengths)", b.Size, b.SeqLen, len(b.IDs), len(b.Lengths))
		}
		for i := range b.Size {
			l := int(b.Lengths[i])
			id := b.IDs[i*testSeqLen]
			p, m, r := int(id/1_000_000), int(id/1000%1000), int(id%1000)
			if wantLen := 3 + (p+m+r)%(testSeqLen-3); l != wantLen {
				t.Fatalf("example %d length %d, want %d", id, l, wantLen)
			}
			for j := l; j < testSeqLen; j++ {
				if b.IDs[i*testSeqLen+j] != schemas.PadID {
					t.Fatalf("example %d not padded at %d", id, j)
				}
			}
			if b.Segments[i*testSeqLen+l-1] != 1 {
				t.Fatalf("example %d segments %v", id, b.Segments[i*testSeqLen:(i+1)*testSeqLen])
			}
		}
		got = append(got, firstTokens(b)...)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("example %d is %d, want %d (order)", i, got[i], want[i])
		}
	}
}

// TestResumeFromEveryPosition: reopening at the position returned with
// batch k yields exactly the batches the uninterrupted read had after k.
func TestResumeFromEveryPosition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const parts, msgs, rows, bs = 2, 5, 4, 3
	cfg, topic := fill(t, ctx, parts, msgs, rows)
	s := open(t, ctx, cfg, topic, "g-full", bs, "", nil)
	n := parts * msgs * rows / bs
	var all [][]int32
	var positions []trainer.Position
	for range n {
		b, pos, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, firstTokens(b))
		positions = append(positions, pos)
	}
	s.Close()
	for _, k := range []int{0, 1, 2, 4, 7, n - 2} {
		r := open(t, ctx, cfg, topic, fmt.Sprintf("g-resume-%d", k), bs, positions[k], nil)
		for i := k + 1; i < n; i++ {
			b, _, err := r.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := firstTokens(b); fmt.Sprint(got) != fmt.Sprint(all[i]) {
				t.Fatalf("resumed after batch %d: batch %d = %v, want %v", k, i, got, all[i])
			}
		}
		r.Close()
	}
}

// TestDuplicatesAndBadMessages: a redelivered batch id is dropped, a
// message that is not Arrow is handed to OnBadMessage and skipped, and
// both are counted.
func TestDuplicatesAndBadMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, topic := fill(t, ctx, 1, 2, 2)
	produce(t, ctx, cfg, topic, 0, "p0-m1", batch(0, 1, 2)) // redelivery of m1
	produce(t, ctx, cfg, topic, 0, "junk", nil)
	produce(t, ctx, cfg, topic, 0, "p0-m2", batch(0, 2, 2))
	prom := metrics.NewProm("t")
	var bad []int64
	s, err := Open(ctx, Config{Broker: cfg, Topic: topic, Group: "g-dup", BatchSize: 2, Prom: prom,
		OnBadMessage: func(m kafka.Message, err error) { bad = append(bad, m.Offset) }}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []int32
	for range 3 {
		b, _, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, firstTokens(b)...)
	}
	want := []int32{rowID(0, 0, 0), rowID(0, 0, 1), rowID(0, 1, 0), rowID(0, 1, 1), rowID(0, 2, 0), rowID(0, 2, 1)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(bad) != 1 || bad[0] != 3 {
		t.Fatalf("bad messages at offsets %v, want [3]", bad)
	}
	if d := counterValue(t, prom, "electra_train_duplicate_batches_total"); d != 1 {
		t.Fatalf("duplicates counted %v, want 1", d)
	}
	if d := counterValue(t, prom, "electra_train_bad_batches_total"); d != 1 {
		t.Fatalf("bad batches counted %v, want 1", d)
	}
}

func counterValue(t *testing.T, p *metrics.Prom, name string) float64 {
	t.Helper()
	fams, err := p.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.Metric[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestCommitOnlyOnCommit: reading does not move the group's offsets;
// Commit does, to the first message with rows not yet handed out.
func TestCommitOnlyOnCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg, topic := fill(t, ctx, 1, 4, 4)
	s := open(t, ctx, cfg, topic, "g-commit", 3, "", nil)
	for range 2 {
		if _, _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// Nothing committed: a new member of the group starts at the beginning.
	s = open(t, ctx, cfg, topic, "g-commit", 3, "", nil)
	b, _, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first := firstTokens(b)[0]; first != rowID(0, 0, 0) {
		t.Fatalf("without a commit the group restarted at %d, want the first example", first)
	}
	// Two batches of 3 = 6 rows: message 1 is partly used, so message 1 is
	// the first not fully trained.
	_, pos, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, pos); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, ctx, cfg, topic, "g-commit", 3, "", nil)
	defer s.Close()
	b, _, err = s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first := firstTokens(b)[0]; first != rowID(0, 1, 0) {
		t.Fatalf("after Commit the group restarted at %d, want %d (message 1)", first, rowID(0, 1, 0))
	}
}

func TestPositionErrors(t *testing.T) {
	for _, tc := range []struct {
		pos  trainer.Position
		want string
	}{
		{"file:3", "was the checkpoint written by a file-based run"},
		{`{"v":2}`, "version 2"},
	} {
		if _, err := ParsePosition(tc.pos); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.pos, err, tc.want)
		}
	}
	offs, err := ParsePosition(`{"v":1,"topic":"x","next":1,"parts":[{"p":0,"o":5,"r":2},{"p":1,"o":9,"r":0}]}`)
	if err != nil || offs[0] != 5 || offs[1] != 9 {
		t.Fatalf("ParsePosition = %v, %v", offs, err)
	}
}

// TestKill9Resume runs a consumer in a child process that "checkpoints"
// (writes its position and the batches so far to a file, then commits)
// every 3 batches, kills it with SIGKILL mid-run, restarts it from its
// last checkpoint, and checks that the batches trained (up to the
// checkpoint, then after the restart) equal an uninterrupted read: no
// batch lost, none repeated, same order.
func TestKill9Resume(t *testing.T) {
	if os.Getenv("ELECTRA_STREAM_CHILD") != "" {
		t.Skip("child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	const parts, msgs, rows, bs = 3, 6, 4, 5
	cfg, topic := fill(t, ctx, parts, msgs, rows)
	n := parts * msgs * rows / bs
	want := expectedOrder(parts, msgs, rows)[:n*bs]

	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	child := func(stopAfter int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestKill9Child$", "-test.v")
		cmd.Env = append(os.Environ(), "ELECTRA_STREAM_CHILD=1", "ELECTRA_STREAM_BROKER="+cfg.Brokers[0],
			"ELECTRA_STREAM_TOPIC="+topic, "ELECTRA_STREAM_CKPT="+ckpt, "ELECTRA_STREAM_N="+strconv.Itoa(n),
			"ELECTRA_STREAM_BS="+strconv.Itoa(bs), "ELECTRA_STREAM_STOP="+strconv.Itoa(stopAfter))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
	// First run: stops (blocks) after 8 batches; killed while blocked.
	first := child(8)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ckpt + ".blocked"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("child made no progress")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	if b, _ := os.ReadFile(ckpt + ".trained"); strings.Count(string(b), "\n") != 6 {
		t.Fatalf("killed child had checkpointed %d batches, want 6 (it trained 8)", strings.Count(string(b), "\n"))
	}
	// Second run resumes from the checkpoint and finishes.
	second := child(-1)
	if err := second.Run(); err != nil {
		t.Fatalf("resumed child: %v", err)
	}
	got := readTrained(t, ckpt)
	if len(got) != len(want) {
		t.Fatalf("trained %d examples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("example %d = %d, want %d", i, got[i], want[i])
		}
	}
}

// readTrained is the checkpointed log of examples: what a trainer's model
// has seen as of its last checkpoint plus everything after the restart.
func readTrained(t *testing.T, ckpt string) []int32 {
	b, err := os.ReadFile(ckpt + ".trained")
	if err != nil {
		t.Fatal(err)
	}
	var out []int32
	for line := range strings.Lines(string(b)) {
		for f := range strings.FieldsSeq(line) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, int32(v))
		}
	}
	return out
}

// TestKill9Child is the child side of TestKill9Resume. Its "model" is the
// list of examples it has trained on; a checkpoint writes that list and
// the position atomically, then commits, as the trainer does.
func TestKill9Child(t *testing.T) {
	if os.Getenv("ELECTRA_STREAM_CHILD") == "" {
		t.Skip("run by TestKill9Resume")
	}
	ctx := context.Background()
	ckpt := os.Getenv("ELECTRA_STREAM_CKPT")
	n, _ := strconv.Atoi(os.Getenv("ELECTRA_STREAM_N"))
	bs, _ := strconv.Atoi(os.Getenv("ELECTRA_STREAM_BS"))
	stop, _ := strconv.Atoi(os.Getenv("ELECTRA_STREAM_STOP"))
	var trained []string
	var pos trainer.Position
	if b, err := os.ReadFile(ckpt); err == nil {
		pos = trainer.Position(b)
		tb, err := os.ReadFile(ckpt + ".trained")
		if err != nil {
			t.Fatal(err)
		}
		trained = strings.SplitAfter(string(tb), "\n")
		trained = trained[:len(trained)-1]
	}
	cfg := broker.Config{Brokers: []string{os.Getenv("ELECTRA_STREAM_BROKER")}}
	s := open(t, ctx, cfg, os.Getenv("ELECTRA_STREAM_TOPIC"), "g-kill", bs, pos, nil)
	defer s.Close()
	checkpoint := func(p trainer.Position) {
		write := func(path, data string) {
			if err := os.WriteFile(path+".tmp", []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".tmp", path); err != nil {
				t.Fatal(err)
			}
		}
		write(ckpt+".trained", strings.Join(trained, ""))
		write(ckpt, string(p))
		if err := s.Commit(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var pending []string // trained since the last checkpoint: lost on kill
	for len(trained)+len(pending) < n {
		if stop >= 0 && len(trained)+len(pending) == stop {
			if err := os.WriteFile(ckpt+".blocked", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			select {} // wait to be killed
		}
		b, p, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, strings.Trim(fmt.Sprint(firstTokens(b)), "[]")+"\n")
		if (len(trained)+len(pending))%3 == 0 || len(trained)+len(pending) == n {
			trained = append(trained, pending...)
			pending = nil
			checkpoint(p)
		}
	}
}

// TestEOFWhenUpstreamDone: with Done reporting true, a drained topic ends
// the stream with io.EOF instead of waiting forever; before Done, it waits.
func TestEOFWhenUpstreamDone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, topic := fill(t, ctx, 2, 1, 3)
	var done atomic.Bool
	s, err := Open(ctx, Config{Broker: cfg, Topic: topic, Group: "g-eof", BatchSize: 4, PartitionWait: 200 * time.Millisecond, Done: done.Load}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	// 2 rows are left, fewer than a batch: Next waits while upstream runs.
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, _, err = s.Next(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("before Done: %v, want to be still waiting", err)
	}
	done.Store(true)
	if _, _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("after Done: %v, want io.EOF", err)
	}
}

// FuzzParsePosition: a checkpoint's position string (possibly damaged or
// from another source) never panics the parser, and what parses round-trips.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"", `{"v":1,"topic":"t","next":1,"parts":[{"p":0,"o":5,"r":2}],"seen":[1,2]}`, `{"v":2}`, "file:3", `{"v":1,"parts":[{"p":-1,"o":-2}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := parsePosition(trainer.Position(s))
		if err != nil || s == "" {
			return
		}
		b, err := json.Marshal(pos)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parsePosition(trainer.Position(b))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(pos) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", pos, b, again, err)
		}
	})
}
