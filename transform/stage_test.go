package transform

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neurosnap/sentences/english"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform/dataset"
	"github.com/electra-go/electra/transform/pack"
	"github.com/electra-go/electra/transform/wordpiece"
)

var vocabPath = filepath.Join("..", ".cache", "vocab", "bert-base-uncased-vocab.txt")

func loadTok(t testing.TB) *wordpiece.Tokenizer {
	tok, err := wordpiece.Load(vocabPath)
	if err != nil {
		t.Fatalf("%v (run scripts/setup.sh)", err)
	}
	return tok
}

var (
	corpusMu sync.Mutex
	corpus   []schemas.Document
)

// mobyDick returns the Moby-Dick chapters as electra.doc.v1 documents laid
// out as ingest lays them out: one Punkt sentence per line, a blank line
// between paragraphs. Only the first n chapters: Punkt is slow under -race.
func mobyDick(t testing.TB, n int) []schemas.Document {
	corpusMu.Lock()
	defer corpusMu.Unlock()
	if len(corpus) >= n {
		return corpus[:n]
	}
	files, _ := filepath.Glob(filepath.Join("..", ".cache", "corpora", "moby-dick", "*.txt"))
	if len(files) < n {
		t.Fatalf("found %d Moby-Dick chapters, want %d (run scripts/setup.sh)", len(files), n)
	}
	punkt, err := english.NewSentenceTokenizer(nil)
	if err != nil {
		t.Fatal(err)
	}
	{
		for _, f := range files[len(corpus):n] {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for para := range strings.SplitSeq(string(b), "\n\n") {
				for _, s := range punkt.Tokenize(para) {
					if line := strings.TrimSpace(s.Text); line != "" {
						sb.WriteString(line)
						sb.WriteByte('\n')
					}
				}
				sb.WriteByte('\n')
			}
			corpus = append(corpus, schemas.Document{ID: "moby-dick/" + filepath.Base(f), Source: "books", Title: filepath.Base(f), Text: sb.String()})
		}
	}
	return corpus[:n]
}

// reference packs docs the way the issue defines "what the stage must
// produce": the tokenizer's output on each document, packed by the packer
// with the same seed.
func reference(t testing.TB, tok *wordpiece.Tokenizer, l int, seed uint64, docs []schemas.Document) (map[string][]string, pack.Stats) {
	sp := tok.Specials()
	p, err := pack.New(pack.Config{MaxSeqLength: l, Seed: seed, CLS: sp.CLS, SEP: sp.SEP})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	var st pack.Stats
	for _, d := range docs {
		var sents [][]int32
		for line := range d.Sentences() {
			sents = append(sents, tok.Encode(nil, line))
		}
		st.Add(p.Pack(pack.Doc{ID: d.ID, Source: d.Source, Sentences: sents}, func(e schemas.Example) {
			want[d.ID] = append(want[d.ID], exampleKey(e))
		}))
	}
	for _, v := range want {
		slices.Sort(v)
	}
	return want, st
}

func exampleKey(e schemas.Example) string {
	return fmt.Sprint(e.Source, e.InputIDs, e.SegmentIDs)
}

// readLedger reads topic back with duplicates dropped by batch id (as a
// trainer does) and returns each document's examples as exampleKeys.
// check, if set, vets every batch first.
func readLedger(ctx context.Context, t *testing.T, bc broker.Config, topic string, check func(*schemas.ExampleBatch) error) (map[string][]string, TopicStats) {
	t.Helper()
	got := map[string][]string{}
	st, err := ReadTopic(ctx, bc, topic, func(_ string, b *schemas.ExampleBatch) error {
		if check != nil {
			if err := check(b); err != nil {
				return err
			}
		}
		addExamples(got, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}

// addExamples adds b's examples to got, as exampleKeys by document.
func addExamples(got map[string][]string, b *schemas.ExampleBatch) {
	for i := range b.Rows {
		ex := b.Example(i)
		got[ex.DocID] = append(got[ex.DocID], exampleKey(ex))
	}
}

// compareLedger checks that got holds exactly the reference's examples:
// nothing lost, nothing twice.
func compareLedger(t *testing.T, want, got map[string][]string) {
	t.Helper()
	missing, extra := 0, 0
	for id, w := range want {
		g := got[id]
		slices.Sort(g)
		if !slices.Equal(w, g) {
			for _, k := range w {
				if !slices.Contains(g, k) {
					missing++
				}
			}
			extra += max(0, len(g)-len(w))
			if missing+extra > 0 && missing+extra < 5 {
				t.Errorf("document %s: %d examples, want %d", id, len(g), len(w))
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("examples of unknown document %q", id)
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("%d reference examples missing, %d examples extra", missing, extra)
	}
}

func writeJSONL(t *testing.T, path string, docs []schemas.Document, bad []string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i, d := range docs {
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		if i < len(bad) {
			fmt.Fprintln(f, bad[i])
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// invalid documents the stage must dead-letter, each with its reason.
var invalidDocs = []string{
	`{"id": "x1", "source": "books", "text": ""}`,
	`{"id": "", "source": "books", "text": "a sentence."}`,
	`{"id": "x3", "source": "Books!", "text": "a sentence."}`,
	`not json at all`,
	`{"id": "x5", "source": "books", "text": "ok", "extra": 1}`,
}

// TestFileModeMatchesPacker runs `transform --from jsonl: --sink dataset:`
// in-process and checks the dataset holds exactly what the packer builds
// from the tokenizer's output, with dead letters for the invalid lines.
func TestFileModeMatchesPacker(t *testing.T) {
	tok := loadTok(t)
	docs := mobyDick(t, 50)
	dir := t.TempDir()
	in := filepath.Join(dir, "docs.jsonl")
	writeJSONL(t, in, docs, invalidDocs)

	const l, seed = 128, 11
	st, err := New(Config{MaxSeqLength: l, Seed: seed, Workers: 2, BatchRows: 64, ShuffleExamples: 300}, tok)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewDatasetOutput(filepath.Join(dir, "ds"), st.Meta(), dataset.Options{Formats: []dataset.Format{dataset.Arrow, dataset.Parquet}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Run(context.Background(), NewJSONLInput([]string{in}), out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	want, ref := reference(t, tok, l, seed, docs)
	got := map[string][]string{}
	var tokens, batches int64
	for b, err := range dataset.Batches(filepath.Join(dir, "ds")) {
		if err != nil {
			t.Fatal(err)
		}
		batches++
		if b.Meta.VocabSHA256 != tok.SHA256() || b.Meta.MaxSeqLength != l {
			t.Fatalf("batch meta %+v", b.Meta)
		}
		for i := 0; i < b.Rows; i++ {
			e := b.Example(i)
			got[e.DocID] = append(got[e.DocID], exampleKey(e))
			tokens += int64(len(e.InputIDs))
		}
	}
	compareLedger(t, want, got)
	tot := st.Totals()
	if tot.Records != int64(len(docs)+len(invalidDocs)) || tot.Dead != int64(len(invalidDocs)) {
		t.Fatalf("records %d dead %d, want %d and %d", tot.Records, tot.Dead, len(docs)+len(invalidDocs), len(invalidDocs))
	}
	if tot.Pack != ref {
		t.Fatalf("stage pack stats %+v, reference %+v", tot.Pack, ref)
	}
	if tot.Batches != batches {
		t.Fatalf("stage counted %d batches, the dataset holds %d", tot.Batches, batches)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ds", "dead-letters.jsonl"))
	reasons := map[string]int{}
	for line := range strings.Lines(string(b)) {
		var d schemas.DeadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		if d.Topic != "docs.jsonl" || d.Offset < 2 || d.Excerpt == "" {
			t.Fatalf("dead letter does not locate its input: %+v", d)
		}
		reasons[d.Reason]++
	}
	if len(reasons) < 4 || reasons["invalid-field-text"] != 1 || reasons["invalid-document"] != 2 {
		t.Fatalf("dead-letter reasons %v", reasons)
	}
	t.Logf("%d docs -> %d examples, %d tokens in, %d kept, %d truncated by the reference rules (%.1f%%)",
		len(docs), ref.Examples, ref.TokensIn, ref.TokensOut, ref.TokensTruncate, 100*float64(ref.TokensTruncate)/float64(ref.TokensIn))
	if tokens != ref.TokensOut+2*ref.Examples+(ref.Examples-ref.SingleSegment) {
		t.Fatalf("dataset holds %d tokens, want %d kept + specials", tokens, ref.TokensOut)
	}
}

func TestShuffleMixesDocuments(t *testing.T) {
	tok := loadTok(t)
	docs := mobyDick(t, 30)
	run := func(shuffle int) float64 {
		st, err := New(Config{MaxSeqLength: 128, Seed: 3, Workers: 2, BatchRows: 64, ShuffleExamples: shuffle}, tok)
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		out := outputFunc(func(c *Chunk) {
			for _, b := range c.Batches {
				for _, e := range b.Examples {
					rows = append(rows, e.DocID)
				}
			}
		})
		dir := t.TempDir()
		writeJSONL(t, filepath.Join(dir, "d.jsonl"), docs, nil)
		if err := st.Run(context.Background(), NewJSONLInput([]string{filepath.Join(dir, "d.jsonl")}), out); err != nil {
			t.Fatal(err)
		}
		same := 0
		for i := 1; i < len(rows); i++ {
			if rows[i] == rows[i-1] {
				same++
			}
		}
		return float64(same) / float64(len(rows)-1)
	}
	tiny, big := run(1), run(512)
	// Without shuffling neighbours share a document almost always; with a
	// 512-example buffer over ~15-example chapters, rarely.
	if tiny < 0.8 || big > 0.15 {
		t.Fatalf("neighbours from the same document: %.2f with buffer 1, %.2f with buffer 512", tiny, big)
	}
}

type outputFunc func(*Chunk)

func (f outputFunc) Write(_ context.Context, c *Chunk) error { f(c); return nil }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	var ks []K
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestWaitTotals: a waiter wakes when the acknowledged chunks reach its
// condition, while the stage runs, and a cancelled wait returns the
// context's error with the counts so far.
func TestWaitTotals(t *testing.T) {
	tok := loadTok(t)
	docs := mobyDick(t, 12)
	st, err := New(Config{MaxSeqLength: 128, Workers: 2, BatchRows: 16, ShuffleExamples: 32}, tok)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeJSONL(t, filepath.Join(dir, "d.jsonl"), docs, nil)
	// The output holds the third chunk until the waiter has seen two: the
	// wait must return while the run is still going.
	seen := make(chan Totals, 1)
	chunks := 0
	out := outputFunc(func(c *Chunk) {
		if chunks++; chunks == 3 {
			<-seen
		}
	})
	done := make(chan error, 1)
	go func() {
		done <- st.Run(context.Background(), NewJSONLInput([]string{filepath.Join(dir, "d.jsonl")}), out)
	}()
	got, err := st.WaitTotals(context.Background(), func(t Totals) bool { return t.Commits >= 2 })
	if err != nil || got.Commits != 2 || got.Records == 0 {
		t.Fatalf("WaitTotals = %+v, %v; want 2 commits and their records", got, err)
	}
	seen <- got
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if all := st.Totals(); all.Records != int64(len(docs)) {
		t.Fatalf("stage acknowledged %d of %d documents", all.Records, len(docs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := st.WaitTotals(ctx, func(t Totals) bool { return t.Records > int64(len(docs)) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait that cannot be met returned %v, want the context's deadline", err)
	}
}
