package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

// crashBeforeCommit is a KafkaInput whose member dies between the output's
// acknowledgement of a chunk and the commit of its offsets: Commit commits
// nothing and reports the chunk, and the test then stops the stage, as a
// SIGKILL at that moment would.
type crashBeforeCommit struct {
	*KafkaInput
	crashed chan Position
	once    atomic.Bool
}

func (c *crashBeforeCommit) Commit(_ context.Context, through Position) error {
	if c.once.CompareAndSwap(false, true) {
		c.crashed <- through
	}
	return errors.New("member crashed before committing")
}

// TestIdleSealReplayKeepsBatchIDs reproduces the duplicate that idle seals
// used to cause: a chunk sealed because the partition went idle is written
// and acknowledged, the member dies before committing it, more documents
// are appended behind it, and a new member replays the partition from the
// committed offset. Without a durable record of where the idle chunk
// ended, the replay (which sees no pause) cuts it elsewhere and publishes
// the same examples under new batch ids, which no consumer can drop. The
// replay must instead rebuild the chunk exactly: every batch id of the
// first run comes back, and after dropping by id the topic holds exactly
// what the packer builds from the documents.
func TestIdleSealReplayKeepsBatchIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tok := loadTok(t)
	docs := mobyDick(t, 12)
	const (
		topic, out, dlq, group = "idle.docs", "idle.examples", "idle.dlq", "idle-transform"
		maxLen, seed           = 64, 7
	)
	e, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bc := e.Config()
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	produce := func(ds []schemas.Document) {
		t.Helper()
		tr, err := bc.Transport()
		if err != nil {
			t.Fatal(err)
		}
		w := &kafka.Writer{Addr: kafka.TCP(bc.Brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchBytes: broker.MaxMessageBytes, BatchTimeout: time.Millisecond, Transport: tr}
		defer w.Close()
		var msgs []kafka.Message
		for _, d := range ds {
			v, _ := json.Marshal(d)
			msgs = append(msgs, kafka.Message{Key: []byte(d.ID), Value: v})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	// One chunk can hold every document: only idleness seals it.
	cfg := Config{MaxSeqLength: maxLen, Seed: seed, Workers: 2, BatchRows: 8, ShuffleExamples: 1 << 20, FlushIdle: 300 * time.Millisecond}
	member := func(ctx context.Context, wrap func(*KafkaInput) Input) (done chan error, stop func()) {
		st, err := New(cfg, tok)
		if err != nil {
			t.Fatal(err)
		}
		in, err := NewKafkaInput(ctx, KafkaInputConfig{Broker: bc, Topic: topic, Group: group, SessionTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewKafkaOutput(ctx, KafkaOutputConfig{Broker: bc, Topic: out, DLQTopic: dlq, Partitions: 1, Meta: st.Meta()})
		if err != nil {
			t.Fatal(err)
		}
		mctx, mcancel := context.WithCancel(ctx)
		done = make(chan error, 1)
		go func() {
			err := st.Run(mctx, wrap(in), o)
			o.Close()
			in.Close()
			done <- err
		}()
		return done, mcancel
	}
	// idCounts counts every message of the examples topic by batch id,
	// duplicates included.
	idCounts := func() map[string]int {
		t.Helper()
		n := map[string]int{}
		if _, err := readAll(ctx, bc, out, func(m kafka.Message) error {
			n[header(m, schemas.ExamplesHeaderBatchID)]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Run 1: the first half arrives, the partition goes idle, the chunk is
	// sealed, written, acknowledged, and the member dies before the commit.
	produce(docs[:6])
	crash := &crashBeforeCommit{crashed: make(chan Position, 1)}
	done, stop := member(ctx, func(in *KafkaInput) Input { crash.KafkaInput = in; return crash })
	var cut Position
	select {
	case cut = <-crash.crashed:
	case err := <-done:
		t.Fatalf("run 1 ended before writing its idle-sealed chunk: %v", err)
	case <-ctx.Done():
		t.Fatal("run 1 never sealed a chunk on idle")
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run 1: %v", err)
	}
	first := idCounts()
	if len(first) == 0 || cut.Offset != 5 {
		t.Fatalf("run 1 wrote %d batches for a chunk through offset %d; want an idle chunk of offsets 0-5", len(first), cut.Offset)
	}

	// Run 2: the rest arrives before a new member replays from the
	// committed offset, so the replay sees no pause at offset 5.
	produce(docs[6:])
	done, stop = member(ctx, func(in *KafkaInput) Input { return in })
	cl, err := bc.Client()
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
		if err == nil && len(r.Topics[topic]) == 1 && r.Topics[topic][0].CommittedOffset == int64(len(docs)) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run 2 ended before committing every document: %v", err)
		case <-ctx.Done():
			t.Fatal("run 2 never committed every document")
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run 2: %v", err)
	}

	// Each batch of the crashed run is written once more, under its id;
	// everything else once.
	counts := idCounts()
	for id, n := range counts {
		if want := 1 + first[id]; n != want {
			t.Errorf("batch %s written %d times, want %d", id, n, want)
		}
	}
	var rebuilt int
	for id := range first {
		if counts[id] == 2 {
			rebuilt++
		}
	}
	if rebuilt != len(first) {
		t.Errorf("the replay rebuilt %d of the crashed run's %d batches under their ids: the rest came back under other ids", rebuilt, len(first))
	}
	got, st := readLedger(ctx, t, bc, out, nil)
	want, _ := reference(t, tok, maxLen, seed, docs)
	compareLedger(t, want, got)
	t.Logf("run 1: %d batches (chunk through offset %d); after the replay: %d messages, %d duplicates dropped by id, %d distinct batches",
		len(first), cut.Offset, st.Messages, st.Duplicates, len(counts))
}

// cutInput is a scriptedInput that records cuts, with an error to return
// for them, and logs cuts and writes in the order the stage makes them.
type cutInput struct {
	*scriptedInput
	mu     sync.Mutex
	events []string
	cutErr error
}

func (c *cutInput) RecordCut(_ context.Context, first, through Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, "cut "+ChunkPrefix(first, through))
	return c.cutErr
}

func (c *cutInput) Write(_ context.Context, ch *Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, fmt.Sprintf("write %s idle=%v", ChunkPrefix(ch.First, ch.Through), ch.Idle))
	return nil
}

func (c *cutInput) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.events, "; ")
}

// TestStageRecordedCuts pins the stage's side of reproducible idle seals:
// an idle-sealed chunk's end is recorded before it is written; a chunk
// that arrives with a recorded cut is not sealed on idle before it and is
// sealed exactly there; a cut whose last record is gone ends the chunk
// before the next record; a generation that lost its partitions writes
// none of its later chunks; any other failure to record stops the stage.
func TestStageRecordedCuts(t *testing.T) {
	tok := loadTok(t)
	withCut := func(r Record, through int64) Record { r.Cut = Cut{Through: through, Recorded: true}; return r }
	for _, tc := range []struct {
		name    string
		cutErr  error
		recs    func() []Record
		pause   int // index before which the input pauses past FlushIdle
		want    string
		commits int
		wantErr bool
	}{
		{name: "idle seal records its end first",
			recs:  func() []Record { return []Record{docRecord(t, 0, 0, 1), docRecord(t, 0, 1, 1), docRecord(t, 0, 2, 1)} },
			pause: 2,
			want:  "cut t/0/0-1; write t/0/0-1 idle=true; cut t/0/2-2; write t/0/2-2 idle=true", commits: 2},
		{name: "a recorded cut wins over a pause before it and over no pause at it",
			recs: func() []Record {
				return []Record{withCut(docRecord(t, 0, 0, 1), 2), docRecord(t, 0, 1, 1), docRecord(t, 0, 2, 1), docRecord(t, 0, 3, 1), docRecord(t, 0, 4, 1)}
			},
			pause: 1,
			want:  "cut t/0/0-2; write t/0/0-2 idle=true; cut t/0/3-4; write t/0/3-4 idle=true", commits: 2},
		{name: "the recorded last record is gone",
			recs: func() []Record {
				return []Record{withCut(docRecord(t, 0, 0, 1), 2), docRecord(t, 0, 1, 1), docRecord(t, 0, 5, 1)}
			},
			want: "cut t/0/0-1; write t/0/0-1 idle=true; cut t/0/5-5; write t/0/5-5 idle=true", commits: 2},
		{name: "fenced: neither this chunk nor later ones of the generation", cutErr: fmt.Errorf("generation over: %w", ErrFenced),
			recs:  func() []Record { return []Record{docRecord(t, 0, 0, 1), docRecord(t, 1, 0, 1)} },
			pause: 1,
			want:  "cut t/0/0-0"},
		{name: "broker unreachable: the stage stops", cutErr: errors.New("connection refused"),
			recs:    func() []Record { return []Record{docRecord(t, 0, 0, 1)} },
			want:    "cut t/0/0-0",
			wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The script pauses 4x FlushIdle where it wants an idle seal and
			// sends back to back where it wants none.
			st, err := New(Config{MaxSeqLength: 32, Workers: 2, ShuffleExamples: 1000, FlushIdle: 250 * time.Millisecond}, tok)
			if err != nil {
				t.Fatal(err)
			}
			in := &cutInput{scriptedInput: &scriptedInput{recs: make(chan Record)}, cutErr: tc.cutErr}
			in.owner.Store(1) // the generation of every record below
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- st.Run(ctx, in, in) }()
			recs := tc.recs()
			for i, r := range recs {
				if i == tc.pause && i > 0 {
					time.Sleep(time.Second)
				}
				select {
				case in.recs <- r:
				case err := <-done:
					t.Fatalf("stage ended early: %v (%s)", err, in.log())
				}
			}
			if !tc.wantErr {
				// Everything but the end of input is decided by now: let
				// idle seal what is open, then end the input.
				time.Sleep(time.Second)
				close(in.recs)
			}
			err = <-done
			if (err != nil) != tc.wantErr {
				t.Fatalf("Run: %v, want error %v", err, tc.wantErr)
			}
			if got := in.log(); got != tc.want {
				t.Errorf("events\n got %s\nwant %s", got, tc.want)
			}
			in.scriptedInput.mu.Lock()
			defer in.scriptedInput.mu.Unlock()
			if len(in.commits) != tc.commits {
				t.Errorf("commits %v, want %d", in.commits, tc.commits)
			}
		})
	}
}
