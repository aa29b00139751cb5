package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/transform"
	"github.com/electra-go/electra/transform/dataset"
	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "inspect",
		summary: "show what the trainer will see: rows, tokens, length histogram, sources, decoded examples",
		run:     runInspect,
	})
}

func runInspect(ctx context.Context, args []string) error {
	fs := newFlags("inspect", "DIR | --brokers host:port --topic TOPIC",
		"Reads a dataset directory (written by `electra transform --sink dataset:` or `electra export`) or an\n"+
			"example topic, and prints the number of rows and tokens, a histogram of example lengths, the\n"+
			"sources, and the first examples decoded back to text with the vocabulary.")
	kf := addKafkaFlags(fs, "Kafka bootstrap servers, to inspect a topic")
	topic := fs.String("topic", "", "example topic to inspect (instead of DIR)")
	vocab := fs.String("vocab", defaultVocab, "vocabulary for decoding (must match the batches' vocab sha256)")
	show := fs.Int("show", 3, "examples to decode")
	// Flags may follow DIR: parse, take the positional, parse the rest.
	var dirs []string
	for {
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	path, err := resolveVocab(*vocab)
	if err != nil {
		return err
	}
	tok, err := wordpiece.Load(path)
	if err != nil {
		return fmt.Errorf("loading vocab %s: %w", path, err)
	}
	ins := &inspection{tok: tok, show: *show, sources: map[string]int64{}}
	switch {
	case *topic != "":
		if *kf.brokers == "" {
			return usageError(fs, errors.New("--brokers is required with --topic"))
		}
		bc, err := kf.config(ctx, "electra-inspect", nil)
		if err != nil {
			return err
		}
		st, err := transform.ReadTopic(ctx, bc, *topic, func(_ string, b *schemas.ExampleBatch) error { return ins.add(b) })
		if err != nil {
			return err
		}
		fmt.Printf("topic %s: %d messages, %d duplicate batch ids dropped\n", *topic, st.Messages, st.Duplicates)
	case len(dirs) == 1:
		if err := kf.unused("a dataset directory"); err != nil {
			return err
		}
		m, err := dataset.ReadManifest(dirs[0])
		if err != nil {
			return err
		}
		fmt.Printf("dataset %s: %d shards, manifest rows %d, tokens %d\n", dirs[0], len(m.Shards), m.Rows, m.Tokens)
		for b, err := range dataset.Batches(dirs[0]) {
			if err != nil {
				return err
			}
			if err := ins.add(b); err != nil {
				return err
			}
		}
	default:
		fmt.Fprintln(fs.Output(), "electra inspect: give one dataset DIR, or --brokers and --topic")
		fs.Usage()
		return errUsage
	}
	ins.print(os.Stdout)
	return nil
}

type inspection struct {
	tok      *wordpiece.Tokenizer
	show     int
	meta     schemas.ExamplesMeta
	rows     int64
	tokens   int64
	twoSeg   int64
	lengths  []int64
	sources  map[string]int64
	examples []string
}

func (s *inspection) add(b *schemas.ExampleBatch) error {
	if s.lengths == nil {
		s.meta = b.Meta
		s.lengths = make([]int64, b.Meta.MaxSeqLength+1)
		if b.Meta.VocabSHA256 != s.tok.SHA256() {
			fmt.Fprintf(os.Stderr, "inspect: warning: batches were made with vocab sha256 %s, decoding with %s\n", b.Meta.VocabSHA256, s.tok.SHA256())
		}
	}
	if b.Meta.MaxSeqLength != s.meta.MaxSeqLength {
		return fmt.Errorf("batches of different max_seq_length: %d and %d", s.meta.MaxSeqLength, b.Meta.MaxSeqLength)
	}
	for i := 0; i < b.Rows; i++ {
		e := b.Example(i)
		s.rows++
		s.tokens += int64(len(e.InputIDs))
		s.lengths[len(e.InputIDs)]++
		s.sources[e.Source]++
		if len(e.SegmentIDs) > 0 && e.SegmentIDs[len(e.SegmentIDs)-1] == 1 {
			s.twoSeg++
		}
		if len(s.examples) < s.show {
			s.examples = append(s.examples, s.decode(e))
		}
	}
	return nil
}

// decode renders an example with its segments visible.
func (s *inspection) decode(e schemas.Example) string {
	cut := len(e.SegmentIDs)
	for i, g := range e.SegmentIDs {
		if g == 1 {
			cut = i
			break
		}
	}
	out := fmt.Sprintf("doc %s (%s), %d tokens\n  A: %s", e.DocID, e.Source, len(e.InputIDs), s.tok.Decode(e.InputIDs[:cut]))
	if cut < len(e.InputIDs) {
		out += "\n  B: " + s.tok.Decode(e.InputIDs[cut:])
	}
	return out
}

func (s *inspection) print(w io.Writer) {
	if s.rows == 0 {
		fmt.Fprintln(w, "no examples")
		return
	}
	l := s.meta.MaxSeqLength
	fmt.Fprintf(w, "schema %s, max_seq_length %d, tokenizer %q, vocab sha256 %s\n", schemas.ExamplesSchemaName, l, s.meta.Tokenizer, s.meta.VocabSHA256)
	fmt.Fprintf(w, "rows %d, tokens %d (%.1f per row, %.1f%% of positions are padding), two-segment %.1f%%\n",
		s.rows, s.tokens, float64(s.tokens)/float64(s.rows), 100*(1-float64(s.tokens)/float64(s.rows*int64(l))), 100*float64(s.twoSeg)/float64(s.rows))
	fmt.Fprintln(w, "\nlength histogram:")
	buckets := 8
	width := (l + buckets - 1) / buckets
	counts := make([]int64, buckets+1)
	for n, c := range s.lengths {
		if n == l {
			counts[buckets] += c
		} else {
			counts[min(n/width, buckets-1)] += c
		}
	}
	peak := slices.Max(counts)
	for i, c := range counts {
		label := fmt.Sprintf("%4d-%-4d", i*width, min((i+1)*width-1, l-1))
		if i == buckets {
			label = fmt.Sprintf("%9d", l)
		}
		bar := strings.Repeat("#", int(40*c/max(peak, 1)))
		fmt.Fprintf(w, "  %s %8d %5.1f%% %s\n", label, c, 100*float64(c)/float64(s.rows), bar)
	}
	fmt.Fprintln(w, "\nsources:")
	for _, k := range slices.Sorted(maps.Keys(s.sources)) {
		fmt.Fprintf(w, "  %-20s %8d %5.1f%%\n", k, s.sources[k], 100*float64(s.sources[k])/float64(s.rows))
	}
	fmt.Fprintln(w, "\nfirst examples:")
	for _, e := range s.examples {
		fmt.Fprintln(w, e)
	}
}
