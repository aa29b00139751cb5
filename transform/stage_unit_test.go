package transform

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/electra-go/electra/schemas"
)

// scriptedInput replays records from a channel (closed = end of input) and
// records commits; owner mimics a consumer group's state: the generation
// that owns the partitions now (0 while a new one is being negotiated).
type scriptedInput struct {
	recs    chan Record
	mu      sync.Mutex
	commits []Position
	owner   atomic.Int32
}

func (s *scriptedInput) Next(ctx context.Context) (Record, error) {
	select {
	case r, ok := <-s.recs:
		if !ok {
			return Record{}, io.EOF
		}
		return r, nil
	case <-ctx.Done():
		return Record{}, ctx.Err()
	}
}

func (s *scriptedInput) Commit(_ context.Context, p Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, p)
	return nil
}

func (s *scriptedInput) Active(g int32) bool { return s.owner.Load() == g }

type chunkLog struct {
	mu     sync.Mutex
	chunks []*Chunk
}

func (c *chunkLog) Write(_ context.Context, ch *Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, ch)
	return nil
}

func (c *chunkLog) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ch := range c.chunks {
		out = append(out, ChunkPrefix(ch.First, ch.Through))
	}
	return out
}

func docRecord(t *testing.T, part int, off int64, gen int32) Record {
	v, err := json.Marshal(schemas.Document{ID: "d", Source: "books", Text: "Call me Ishmael.\nSome years ago, never mind how long precisely."})
	if err != nil {
		t.Fatal(err)
	}
	return Record{Position: Position{Topic: "t", Partition: part, Offset: off, Generation: gen}, Value: v}
}

// TestStageRebalanceRules pins what the stage does with a consumer group's
// redeliveries: a new generation drops unsealed chunks, records of an
// older generation are ignored, a partition that rewinds restarts its
// chunk, and idle sealing waits while the generation is being revoked.
func TestStageRebalanceRules(t *testing.T) {
	tok := loadTok(t)
	st, err := New(Config{MaxSeqLength: 32, Workers: 2, ShuffleExamples: 1000, FlushIdle: 100 * time.Millisecond}, tok)
	if err != nil {
		t.Fatal(err)
	}
	in := &scriptedInput{recs: make(chan Record)}
	out := &chunkLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, in, out) }()

	send := func(rs ...Record) {
		for _, r := range rs {
			in.recs <- r
		}
	}
	// Generation 1 revoked while partition 0 holds offsets 0..3: idle must
	// not seal them (another member will rebuild them), neither while the
	// next generation is negotiated nor once it owns the partitions.
	send(docRecord(t, 0, 0, 1), docRecord(t, 0, 1, 1), docRecord(t, 0, 2, 1), docRecord(t, 0, 3, 1))
	time.Sleep(400 * time.Millisecond)
	if ids := out.ids(); len(ids) != 0 {
		t.Fatalf("sealed %v while the generation was revoked", ids)
	}
	// Generation 2 redelivers partition 0 from its committed offset 1; a
	// late record of generation 1 is ignored.
	in.owner.Store(2)
	send(docRecord(t, 0, 1, 2), docRecord(t, 0, 4, 1), docRecord(t, 0, 2, 2), docRecord(t, 1, 7, 2))
	// Idle seals both partitions' chunks.
	waitLog := func(n int) {
		deadline := time.Now().Add(20 * time.Second)
		for len(out.ids()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("chunks %v, want %d", out.ids(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog(2)
	// Partition 0 rewinds again within generation 2 (kafka-go re-seeks
	// after an error): the open chunk restarts at the rewound offset.
	send(docRecord(t, 0, 3, 2), docRecord(t, 0, 4, 2), docRecord(t, 0, 3, 2))
	close(in.recs)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.ids()
	want := map[string]bool{"t/0/1-2": true, "t/1/7-7": true, "t/0/3-3": true}
	if len(got) != len(want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("chunks %v, want %v", got, want)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.commits) != 3 {
		t.Fatalf("commits %v, want one per chunk", in.commits)
	}
	for _, c := range in.commits {
		if c.Generation != 2 {
			t.Fatalf("commit %+v outside generation 2", c)
		}
	}
}
