package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/electra-go/electra/schemas"
)

// Config is one ingest run. Zero values are the defaults noted.
type Config struct {
	// Format is a registered format name (see Formats).
	Format string
	// Inputs are files or directories (walked recursively, sorted).
	Inputs  []string
	Options Options
	// Sink receives documents and dead letters. Run does not close it.
	Sink Sink
	// Resume is the resume file; empty disables resuming.
	Resume string
	// MaxDocBytes caps one document's text; default
	// schemas.MaxDocumentBytes. Over-cap documents are split (Oversize
	// "split", the default) into parts with ids "<id>#s<n>", or
	// dead-lettered (Oversize "deadletter").
	MaxDocBytes int
	Oversize    string
	// Workers split sentences in parallel; default GOMAXPROCS.
	Workers int
	// BatchDocs and BatchBytes bound one sink write (and so the work a
	// kill can lose); defaults 1000 documents, 8 MiB.
	BatchDocs  int
	BatchBytes int
	// Progress, when set, receives a one-line progress bar (rewritten
	// with \r) twice a second.
	Progress io.Writer
	Logger   *slog.Logger
}

// Summary counts what a run did.
type Summary struct {
	Files      int
	Docs       int64
	Sentences  int64
	InputBytes int64 // stored bytes of the inputs read
	TextBytes  int64 // bytes of document text produced
	// Duplicates: documents whose text was already produced.
	Duplicates int64
	// Resumed: records skipped because the resume file says they are done.
	Resumed int64
	// AlreadyWritten: documents a killed run produced after its last
	// checkpoint, found in the sink and not produced again.
	AlreadyWritten int64
	Skipped        map[string]int64 // by reason
	Dead           map[string]int64 // by reason
	Repaired       map[string]int64 // by reason
	Elapsed        time.Duration
}

func (s Summary) String() string {
	mb := float64(s.InputBytes) / 1e6
	rate := 0.0
	if s.Elapsed > 0 {
		rate = mb / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("files=%d docs=%d sentences=%d input=%.1fMB text=%.1fMB duplicates=%d resumed=%d already-written=%d skipped=%s dead=%s repaired=%s elapsed=%s (%.1f MB/s)",
		s.Files, s.Docs, s.Sentences, mb, float64(s.TextBytes)/1e6, s.Duplicates, s.Resumed, s.AlreadyWritten,
		fmtCounts(s.Skipped), fmtCounts(s.Dead), fmtCounts(s.Repaired), s.Elapsed.Round(time.Millisecond), rate)
}

func fmtCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "{}"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ExpandInputs turns files and directories into the sorted list of files
// to read, skipping hidden files and multistream index files.
func ExpandInputs(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		fi, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		if !fi.IsDir() {
			files = append(files, in)
			continue
		}
		var found []string
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if p != in && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && !strings.Contains(name, "-index.txt") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, errors.New("no input files")
	}
	return files, nil
}

// job is one record on its way through the sentence splitters; done is
// closed when the worker is finished with it, and the consumer takes jobs
// in input order.
type job struct {
	rec       Record
	err       error
	parts     []schemas.Document
	sentences []int
	hash      uint64
	dead      *schemas.DeadLetter
	done      chan struct{}
}

// Run reads every input with the format's reader, lays out sentences,
// drops duplicates, and writes documents and dead letters to the sink in
// acknowledged batches, checkpointing the resume file after each.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	start := time.Now()
	sum := Summary{Skipped: map[string]int64{}, Dead: map[string]int64{}, Repaired: map[string]int64{}}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Sink == nil {
		return sum, errors.New("ingest: no sink configured")
	}
	if !slices.Contains(Formats(), cfg.Format) {
		return sum, fmt.Errorf("unknown input format %q; known formats: %v", cfg.Format, Formats())
	}
	switch cfg.Oversize {
	case "":
		cfg.Oversize = "split"
	case "split", "deadletter":
	default:
		return sum, fmt.Errorf("oversize policy %q: want split or deadletter", cfg.Oversize)
	}
	if cfg.MaxDocBytes <= 0 || cfg.MaxDocBytes > schemas.MaxDocumentBytes {
		cfg.MaxDocBytes = schemas.MaxDocumentBytes
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchDocs <= 0 {
		cfg.BatchDocs = 1000
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 8 << 20
	}
	files, err := ExpandInputs(cfg.Inputs)
	if err != nil {
		return sum, err
	}
	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}

	// Resume state, the sink rolled back to it, and the duplicate filter.
	var state *resumeState
	if cfg.Resume != "" {
		if state, err = loadResume(cfg.Resume); err != nil {
			return sum, err
		}
		if state != nil && state.Format != cfg.Format {
			return sum, fmt.Errorf("resume file %s is for format %q, not %q", cfg.Resume, state.Format, cfg.Format)
		}
	}
	resumed := state != nil
	if state == nil {
		state = &resumeState{Version: 1, Format: cfg.Format, Files: map[string]*fileState{}}
	}
	var sinkState []byte
	if resumed {
		sinkState = state.Sink
		if sinkState == nil {
			sinkState = []byte("{}")
		}
	}
	already, err := cfg.Sink.Resume(ctx, sinkState)
	if err != nil {
		return sum, err
	}
	seen := map[uint64]struct{}{}
	var hlog *hashLog
	if cfg.Resume != "" {
		if hlog, err = openHashLog(cfg.Resume+".hashes", state.Hashes, seen); err != nil {
			return sum, err
		}
		defer hlog.Close()
		if !resumed {
			// Checkpoint the sink's starting point before producing
			// anything, so even a kill during the first batch resumes
			// exactly.
			if state.Sink, err = cfg.Sink.State(ctx); err != nil {
				return sum, err
			}
			if err := state.save(cfg.Resume); err != nil {
				return sum, err
			}
		} else {
			log.Info("resuming", "resume", cfg.Resume, "files_done", countDone(state), "already_in_sink", len(already))
		}
	}

	// Batching and checkpoints.
	var (
		docs      []schemas.Document
		dead      []schemas.DeadLetter
		pending   []uint64
		batchSize int
	)
	flush := func(file string, lastOffset int64, fileDone bool) error {
		if len(docs) > 0 || len(dead) > 0 {
			if err := cfg.Sink.Write(ctx, docs, dead); err != nil {
				return err
			}
		}
		docs, dead, batchSize = docs[:0], dead[:0], 0
		if cfg.Resume == "" {
			pending = pending[:0]
			return nil
		}
		if err := hlog.append(pending); err != nil {
			return err
		}
		pending = pending[:0]
		fs := state.Files[stateKey(file)]
		if fs == nil {
			fs = &fileState{Offset: -1}
			state.Files[stateKey(file)] = fs
		}
		fs.Offset = max(fs.Offset, lastOffset)
		fs.Done = fs.Done || fileDone
		state.Hashes = hlog.n
		// While documents found in the sink after the old checkpoint are
		// still unaccounted for, keep the old sink state so that another
		// kill re-reads that same tail.
		if len(already) == 0 {
			if state.Sink, err = cfg.Sink.State(ctx); err != nil {
				return err
			}
		}
		return state.save(cfg.Resume)
	}

	// Progress.
	var doneBytes, docCount atomic.Int64
	var cur atomic.Pointer[Reader]
	stopProgress := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					printProgress(cfg.Progress, doneBytes.Load(), total, docCount.Load(), time.Since(start))
					fmt.Fprintln(cfg.Progress)
					return
				case <-t.C:
					read := doneBytes.Load()
					if r := cur.Load(); r != nil {
						read += (*r).BytesRead()
					}
					printProgress(cfg.Progress, read, total, docCount.Load(), time.Since(start))
				}
			}
		}()
	}
	defer func() {
		close(stopProgress)
		progressWG.Wait()
	}()

	splitters := make(chan *Splitter, cfg.Workers)
	for _, file := range files {
		fstate := state.Files[stateKey(file)]
		fi, _ := os.Stat(file)
		if fstate != nil && fstate.Done {
			if fi != nil {
				doneBytes.Add(fi.Size())
			}
			continue
		}
		skipTo := int64(-1)
		if fstate != nil {
			skipTo = fstate.Offset
		}
		r, err := Open(cfg.Format, file, cfg.Options)
		if err != nil {
			return sum, err
		}
		cur.Store(&r)
		sum.Files++
		last := skipTo
		err = process(ctx, r, cfg, splitters, skipTo, &sum, func(j *job) error {
			rec := &j.rec
			if j.err == nil {
				last = rec.Offset
			}
			if rec.Repaired != "" {
				sum.Repaired[rec.Repaired]++
			}
			switch {
			case j.err != nil:
				sum.Dead["read-error"]++
				// The rest of the file is unreadable; what came before is kept.
				dead = append(dead, schemas.DeadLetter{Stage: "ingest", Reason: "read-error", Error: j.err.Error(), SourceFile: file, Offset: max(last, 0)})
			case j.dead != nil:
				sum.Dead[j.dead.Reason]++
				dead = append(dead, *j.dead)
				batchSize += len(j.dead.Excerpt)
			case rec.Skip != "":
				sum.Skipped[rec.Skip]++
			default:
				if already[j.parts[0].ID] {
					delete(already, j.parts[0].ID)
					for _, p := range j.parts[1:] {
						delete(already, p.ID)
					}
					sum.AlreadyWritten++
					seen[j.hash] = struct{}{}
					pending = append(pending, j.hash)
					break
				}
				if _, dup := seen[j.hash]; dup {
					sum.Duplicates++
					break
				}
				seen[j.hash] = struct{}{}
				pending = append(pending, j.hash)
				for i, p := range j.parts {
					docs = append(docs, p)
					batchSize += len(p.Text)
					sum.Docs++
					sum.Sentences += int64(j.sentences[i])
					sum.TextBytes += int64(len(p.Text))
				}
				docCount.Store(sum.Docs)
			}
			if len(docs) >= cfg.BatchDocs || batchSize >= cfg.BatchBytes {
				return flush(file, last, false)
			}
			return nil
		})
		if err != nil {
			r.Close()
			return sum, err
		}
		if err := flush(file, last, true); err != nil {
			r.Close()
			return sum, err
		}
		cur.Store(nil)
		if fi != nil {
			doneBytes.Add(fi.Size())
			sum.InputBytes += fi.Size()
		}
		if err := r.Close(); err != nil {
			log.Warn("closing input", "file", file, "err", err)
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// stateKey names a file in the resume file by its absolute path, so a
// re-run from another directory still finds its progress.
func stateKey(file string) string {
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	return file
}

func countDone(st *resumeState) int {
	n := 0
	for _, f := range st.Files {
		if f.Done {
			n++
		}
	}
	return n
}

// process runs one reader's records through cfg.Workers sentence
// splitters and hands them to consume in input order. A read error ends
// the file: it is handed to consume as a job with err set.
func process(ctx context.Context, r Reader, cfg Config, pool chan *Splitter, skipTo int64, sum *Summary, consume func(*job) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *job, cfg.Workers)
	order := make(chan *job, 4*cfg.Workers)
	var wg sync.WaitGroup
	var splitErr atomic.Pointer[error]
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Splitters outlive a file: loading one costs ~30 ms, which
			// adds up over a directory of small books.
			var sp *Splitter
			select {
			case sp = <-pool:
			default:
				var err error
				if sp, err = NewSplitter(); err != nil {
					splitErr.Store(&err)
				}
			}
			if sp != nil {
				defer func() {
					select {
					case pool <- sp:
					default:
					}
				}()
			}
			for j := range work {
				if sp != nil {
					shape(sp, j, cfg)
				}
				close(j.done)
			}
		}()
	}
	var resumedCount atomic.Int64
	go func() {
		defer close(order)
		defer close(work)
		for rec, err := range r.Records() {
			if err == nil && rec.Offset <= skipTo {
				resumedCount.Add(1)
				continue
			}
			j := &job{rec: rec, err: err, done: make(chan struct{})}
			if err != nil {
				close(j.done)
			} else {
				select {
				case work <- j:
				case <-ctx.Done():
					return
				}
			}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var err error
	for j := range order {
		<-j.done
		if e := splitErr.Load(); e != nil {
			err = fmt.Errorf("loading the sentence splitter: %w", *e)
			break
		}
		if err = consume(j); err != nil {
			break
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	cancel()
	for range order {
	}
	wg.Wait()
	sum.Resumed += resumedCount.Load()
	return err
}

// shape splits sentences, hashes the text, and caps the document size.
func shape(sp *Splitter, j *job, cfg Config) {
	rec := &j.rec
	if rec.Dead != nil {
		j.dead = rec.Dead
		return
	}
	if rec.Skip != "" {
		return
	}
	d := rec.Doc
	for _, f := range []*string{&d.Title, &d.Text, &d.URL} {
		if !utf8.ValidString(*f) {
			*f = strings.ToValidUTF8(*f, "\uFFFD")
			if rec.Repaired == "" {
				rec.Repaired = "invalid-utf8"
			}
		}
	}
	text, n := sp.Split(d.Text)
	if n == 0 {
		rec.Skip = "empty"
		return
	}
	d.Text = text
	h := fnv.New64a()
	h.Write([]byte(text))
	j.hash = h.Sum64()
	if len(text) <= cfg.MaxDocBytes {
		if err := d.Validate(); err != nil {
			j.dead = deadLetter("invalid-document", err, rec.File, rec.Offset, d.ID, []byte(d.Text))
			return
		}
		j.parts, j.sentences = []schemas.Document{d}, []int{n}
		return
	}
	if cfg.Oversize == "deadletter" {
		j.dead = deadLetter("too-large", fmt.Errorf("document text is %d bytes, over the %d-byte cap (--max-doc-bytes); use --oversize split to keep it in parts", len(text), cfg.MaxDocBytes), rec.File, rec.Offset, d.ID, []byte(text))
		return
	}
	for i, part := range splitText(text, cfg.MaxDocBytes) {
		p := d
		p.ID = fmt.Sprintf("%s#s%d", d.ID, i)
		p.Text = part
		if err := p.Validate(); err != nil {
			j.dead = deadLetter("invalid-document", err, rec.File, rec.Offset, p.ID, []byte(part))
			j.parts, j.sentences = nil, nil
			return
		}
		j.parts = append(j.parts, p)
		j.sentences = append(j.sentences, strings.Count(part, "\n")+1-strings.Count(part, "\n\n"))
	}
}

// splitText cuts text into pieces of at most max bytes, preferring
// paragraph boundaries, then sentence (line) boundaries, and cutting a
// single over-long sentence at a rune boundary as a last resort.
func splitText(text string, max int) []string {
	var parts []string
	for len(text) > max {
		cut := strings.LastIndex(text[:max], "\n\n")
		if cut <= 0 {
			cut = strings.LastIndexByte(text[:max], '\n')
		}
		if cut <= 0 {
			cut = max
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
		}
		parts = append(parts, strings.TrimRight(text[:cut], "\n"))
		text = strings.TrimLeft(text[cut:], "\n")
	}
	if text != "" {
		parts = append(parts, text)
	}
	return parts
}

func printProgress(w io.Writer, read, total, docs int64, elapsed time.Duration) {
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(float64(read)/float64(total), 1)
	}
	filled := int(frac * width)
	rate := float64(docs) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "\r[%s%s] %5.1f%% %.1f/%.1f MB  %d docs  %.0f docs/s  %.1f MB/s ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac,
		float64(read)/1e6, float64(total)/1e6, docs, rate, float64(read)/1e6/max(elapsed.Seconds(), 1e-9))
}
