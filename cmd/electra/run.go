package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/ingest"
	"github.com/electra-go/electra/pipelines"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/metrics"
	"github.com/electra-go/electra/trainer/stream"
	"github.com/electra-go/electra/trainer/torch"
	"github.com/electra-go/electra/transform"
	"github.com/electra-go/electra/transform/wordpiece"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a whole pipeline file in one process",
		run:     runRun,
	})
}

func runRun(ctx context.Context, args []string) error {
	fs := newFlags("run", "PIPELINE.yaml [flags]",
		"Runs every stage of a pipeline file in one process: ingest (corpus files -> documents topic),\n"+
			"transform (documents -> packed Arrow example batches) and the trainer (examples topic -> ELECTRA),\n"+
			"on the embedded broker (broker.embedded, data kept in its data_dir) or on the cluster named by\n"+
			"broker.brokers. Run it again after an interruption or a crash and it continues: ingest from its\n"+
			"resume files, transform from its committed offsets, the trainer from its newest checkpoint.\n"+
			"The run directory (output:) receives checkpoints, metrics.jsonl, TensorBoard events\n"+
			"(tensorboard/) and loss.png. The file is validated before anything starts.")
	steps := fs.Int("steps", 0, "override train.steps (0 = the file's)")
	progress := fs.Bool("progress", isTerminal(os.Stderr), "show a live status line on stderr (default: when stderr is a terminal)")
	summaryJSON := fs.String("summary", "", "also write the final summary as JSON to this file")
	kf := addKafkaFlags(fs, "Kafka bootstrap servers host:port[,...]: replace the file's broker.brokers (not with broker.embedded)")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Flags may also follow the file: electra run FILE --steps 100.
	file := fs.Arg(0)
	if fs.NArg() > 1 {
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			fmt.Fprintln(fs.Output(), "electra run: give exactly one pipeline file")
			fs.Usage()
			return errUsage
		}
	}
	if file == "" {
		fmt.Fprintln(fs.Output(), "electra run: give a pipeline file")
		fs.Usage()
		return errUsage
	}
	p, err := pipelines.Load(file)
	if err != nil {
		return err
	}
	if *steps > 0 {
		p.Train.Steps = *steps
	}
	if *kf.brokers != "" || kf.anySecurity() {
		if p.Broker.Embedded != nil {
			return usageError(fs, fmt.Errorf("%s uses the embedded broker (in process, plaintext); --brokers and the %s flags apply to a pipeline with broker.brokers", p.File, securityFlagsN))
		}
		if *kf.brokers != "" {
			p.Broker.Brokers = broker.ParseBrokers(*kf.brokers)
			if err := (broker.Config{Brokers: p.Broker.Brokers}).Validate(); err != nil {
				return usageError(fs, err)
			}
		}
		sec, err := kf.security(p.BrokerConfig().Security)
		if err != nil {
			return usageError(fs, err)
		}
		p.Broker.Security = sec
	}
	res, err := runPipeline(ctx, p, runOptions{progress: *progress})
	if res != nil {
		res.print(os.Stdout)
		if *summaryJSON != "" {
			if werr := res.writeJSON(*summaryJSON); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	return err
}

type runOptions struct {
	progress bool
	// onStep, when set, is called after each training step (tests).
	onStep func(step int)
}

// pipelineResult is the closing summary of a run.
type pipelineResult struct {
	Pipeline    string  `json:"pipeline"`
	RunDir      string  `json:"run_dir"`
	Documents   int64   `json:"documents"`  // ingested this process
	Examples    int64   `json:"examples"`   // built by transform this process
	Steps       int     `json:"steps"`      // trainer's last step
	Trained     int64   `json:"trained"`    // examples trained on (all runs)
	Checkpoint  string  `json:"checkpoint"` // newest
	Metrics     string  `json:"metrics"`
	Plot        string  `json:"plot"`
	Events      string  `json:"events"`
	DiscAcc     float64 `json:"disc_acc"`
	Baseline    float64 `json:"baseline"` // all-original accuracy
	MLMLoss     float64 `json:"mlm_loss"`
	DiscBCE     float64 `json:"disc_bce"`
	PriorBCE    float64 `json:"prior_bce"` // entropy of the replaced fraction
	Starvation  float64 `json:"starvation"`
	Prometheus  string  `json:"prometheus,omitempty"`
	Elapsed     string  `json:"elapsed"`
	Interrupted bool    `json:"interrupted"`
}

func runPipeline(ctx context.Context, p *pipelines.Pipeline, o runOptions) (*pipelineResult, error) {
	start := time.Now()
	log := slog.Default().With("pipeline", p.Name)
	inputs, err := p.Inputs()
	if err != nil {
		return nil, err
	}
	runDir := p.Path(p.Output)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}

	// Broker: embedded (single machine) or the cluster in the file.
	var bc broker.Config
	if e := p.Broker.Embedded; e != nil {
		dir := p.Path(e.DataDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("broker data dir: %w", err)
		}
		// The broker outlives a cancelled ctx until the stages have
		// stopped (the deferred Close), so they can commit on the way out.
		b, err := broker.StartEmbedded(context.WithoutCancel(ctx), broker.EmbeddedConfig{DataDir: dir, Port: e.Port})
		if err != nil {
			return nil, err
		}
		defer b.Close()
		bc = b.Config()
		log.Info("embedded broker", "addrs", b.Addrs(), "data_dir", dir)
	} else {
		bc = p.BrokerConfig()
		if err := bc.Security.Check(ctx, bc.Brokers); err != nil {
			return nil, err
		}
	}
	bc.ClientID = "electra-" + p.Name
	if err := broker.EnsureTopics(ctx, bc, []broker.TopicSpec{
		{Name: p.Topics.Documents.Name, Partitions: p.Topics.Documents.Partitions},
		{Name: p.Topics.Examples.Name, Partitions: p.Topics.Examples.Partitions},
		{Name: p.Topics.DeadLetters.Name, Partitions: p.Topics.DeadLetters.Partitions},
	}); err != nil {
		return nil, err
	}

	// The upstream stages stop when training is done; their errors end the
	// run (a failed stage must not leave the trainer waiting forever).
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg        sync.WaitGroup
		stageErrs = make(chan error, 2)
		ingested  atomic.Int64
		ingestEnd atomic.Bool
	)
	wg.Go(func() {
		defer ingestEnd.Store(true)
		for i, src := range p.Sources {
			sink, err := ingest.NewKafkaSink(sctx, ingest.KafkaSinkConfig{Broker: bc, Topic: p.Topics.Documents.Name,
				DLQTopic: p.Topics.DeadLetters.Name, Partitions: p.Topics.Documents.Partitions})
			if err != nil {
				stageErrs <- fmt.Errorf("ingest %s: %w", src.Name, err)
				return
			}
			// The resume file makes a restarted run skip what is already
			// acknowledged in the topic: no document twice.
			sum, err := ingest.Run(sctx, ingest.Config{
				Format: src.Format, Inputs: inputs[i], Options: ingest.Options{Source: src.Name},
				Sink: sink, Resume: filepath.Join(runDir, fmt.Sprintf("ingest-%d-%s.resume", i, src.Name)),
				Logger: log.With("stage", "ingest", "source", src.Name),
			})
			if cerr := sink.Close(); err == nil {
				err = cerr
			}
			ingested.Add(sum.Docs)
			log.Info("ingest done", "source", src.Name, "summary", sum.String())
			if err != nil {
				if sctx.Err() == nil {
					stageErrs <- fmt.Errorf("ingest %s: %w", src.Name, err)
				}
				return
			}
		}
	})

	tok, err := wordpiece.Load(p.Path(p.Tokenizer.Vocab))
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer.vocab: %w", p.File, err)
	}
	stage, err := transform.New(transform.Config{
		MaxSeqLength: p.Packing.MaxSeqLen, Seed: uint64(p.Packing.Seed), Workers: p.Packing.Workers,
		BatchRows: p.Packing.BatchRows, ShuffleExamples: p.Packing.ShuffleBuffer,
		Logger: log.With("stage", "transform"),
	}, tok)
	if err != nil {
		return nil, err
	}
	transformGroup := p.Name + "-transform"
	in, err := transform.NewKafkaInput(sctx, transform.KafkaInputConfig{Broker: bc, Topic: p.Topics.Documents.Name, Group: transformGroup,
		Logger: log.With("stage", "transform")})
	if err != nil {
		return nil, err
	}
	out, err := transform.NewKafkaOutput(sctx, transform.KafkaOutputConfig{Broker: bc, Topic: p.Topics.Examples.Name,
		Partitions: p.Topics.Examples.Partitions, Meta: stage.Meta(), Logger: log.With("stage", "transform")})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	defer out.Close()
	wg.Go(func() {
		if err := stage.Run(sctx, in, out); err != nil && sctx.Err() == nil && !errors.Is(err, io.EOF) {
			stageErrs <- fmt.Errorf("transform: %w", err)
		}
	})

	// The trainer may stop when ingest has finished and transform has
	// committed every document: nothing more will arrive.
	lag := newLagProbe(bc, p.Topics.Documents.Name, transformGroup)
	defer lag.close()
	docsProbe := newLagProbe(bc, p.Topics.Documents.Name, "")
	defer docsProbe.close()
	upstreamDone := func() bool {
		if !ingestEnd.Load() {
			return false
		}
		n, err := lag.lag(sctx)
		return err == nil && n == 0
	}

	c, err := trainer.Preset(p.Model.Preset)
	if err != nil {
		return nil, err
	}
	if c.SeqLen != p.Packing.MaxSeqLen {
		// The masking budget is the reference's max_predictions_per_seq
		// for the examples' length.
		c.SeqLen = p.Packing.MaxSeqLen
		c.MaxPredictions = int((c.MaskProb + 0.005) * float64(c.SeqLen))
	}
	if p.Train.BatchSize > 0 {
		c.BatchSize = p.Train.BatchSize
	}
	if p.Train.LearningRate > 0 {
		c.LearningRate = p.Train.LearningRate
	}
	if p.Train.WarmupSteps > 0 {
		c.WarmupSteps = p.Train.WarmupSteps
	}
	c.WarmupSteps = min(c.WarmupSteps, p.Train.Steps)

	defer torch.LockThread()()
	torch.SetThreads(p.Train.Threads)
	dev, err := torch.Device(p.Train.Device)
	if err != nil {
		return nil, fmt.Errorf("%s: train.device: %w", p.File, err)
	}
	prec, err := torch.ParsePrecision(p.Train.Precision, dev)
	if err != nil {
		return nil, fmt.Errorf("%s: train.precision: %w", p.File, err)
	}
	var (
		lastM       atomic.Pointer[trainer.Metrics]
		docsInTopic atomic.Int64
	)
	status := func() string {
		m := lastM.Load()
		t := stage.Totals()
		if n, err := docsProbe.end(sctx); err == nil {
			docsInTopic.Store(n)
		}
		docs := max(docsInTopic.Load(), ingested.Load())
		s := fmt.Sprintf("docs %d%s | examples %d | ", docs, map[bool]string{true: " (ingest done)", false: ""}[ingestEnd.Load()], t.Pack.Examples)
		if m == nil {
			return s + "trainer starting"
		}
		frac := float64(m.Step) / float64(p.Train.Steps)
		const width = 24
		bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
		return s + fmt.Sprintf("step %d/%d [%s] mlm %.2f disc_loss %.3f disc_acc %.3f", m.Step, p.Train.Steps, bar, m.MLMLoss, m.DiscLoss, m.DiscAcc)
	}
	if o.progress {
		wg.Go(func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-sctx.Done():
					fmt.Fprintf(os.Stderr, "\r%s\n", status())
					return
				case <-t.C:
					fmt.Fprintf(os.Stderr, "\r%s   ", status())
				}
			}
		})
	}
	tctx, cancelTrain := context.WithCancelCause(sctx)
	defer cancelTrain(nil)
	go func() {
		select {
		case err := <-stageErrs:
			cancelTrain(err)
		case <-tctx.Done():
		}
	}()
	tres, err := stream.Train(tctx, stream.TrainConfig{
		Stream: stream.Config{Broker: bc, Topic: p.Topics.Examples.Name, Group: p.Train.Group, BatchSize: c.BatchSize,
			Prefetch: p.Train.Prefetch, Done: upstreamDone, Logger: log.With("stage", "stream")},
		Run: trainer.RunOptions{
			Config: c, Adam: trainer.DefaultAdam(), Device: dev, Precision: prec, Seed: uint64(p.Train.Seed), Steps: p.Train.Steps,
			Warmup: c.WarmupSteps, OutDir: runDir, Resume: true, Logger: log.With("stage", "train"),
			CheckpointEvery: p.Train.CheckpointEvery, Keep: p.Train.KeepCheckpoints, LogEvery: p.Train.LogEvery,
			Progress: func(m trainer.Metrics) {
				lastM.Store(&m)
				if o.onStep != nil {
					o.onStep(m.Step)
				}
			},
		},
		RunName: p.Name, MetricsAddr: p.Train.Metrics,
		OnServe: func(addr string) {
			log.Info("metrics endpoint", "url", "http://"+addr+"/metrics")
			if o.progress {
				fmt.Fprintf(os.Stderr, "Prometheus metrics: http://%s/metrics   TensorBoard: tensorboard --logdir %s\n", addr, filepath.Join(runDir, "tensorboard"))
			}
		},
	})
	if cause := context.Cause(tctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	stop()
	wg.Wait()
	res := &pipelineResult{
		Pipeline: p.File, RunDir: runDir, Documents: ingested.Load(), Examples: stage.Totals().Pack.Examples,
		Metrics: filepath.Join(runDir, "metrics.jsonl"), Plot: tres.Plot, Events: tres.Events,
		DiscBCE: tres.DiscBCE, PriorBCE: tres.PriorBCE, DiscAcc: tres.DiscAcc, Baseline: tres.Baseline, MLMLoss: tres.Last.MLMLoss, Steps: int(tres.Last.Step),
		Starvation: tres.Starvation, Prometheus: tres.MetricsAddr, Elapsed: time.Since(start).Round(time.Second).String(),
	}
	if m := lastM.Load(); m != nil {
		res.Steps = m.Step // the metrics history holds logged steps only
	}
	res.Trained = int64(res.Steps) * int64(c.BatchSize)
	res.Interrupted = errors.Is(err, context.Canceled)
	if ck, cerr := trainer.LatestCheckpoint(runDir); cerr == nil {
		res.Checkpoint = ck
	}
	return res, err
}

func (r *pipelineResult) print(w io.Writer) {
	how := "finished in"
	if r.Interrupted {
		how = "interrupted after"
	}
	fmt.Fprintf(w, "\nelectra run %s %s %s\n", r.Pipeline, how, r.Elapsed)
	fmt.Fprintf(w, "  documents ingested (this run)   %d\n", r.Documents)
	fmt.Fprintf(w, "  examples packed (this run)      %d\n", r.Examples)
	fmt.Fprintf(w, "  trainer steps                   %d (%d examples)\n", r.Steps, r.Trained)
	fmt.Fprintf(w, "  data starvation                 %.1f%% of the trainer's time\n", 100*r.Starvation)
	fmt.Fprintf(w, "  generator MLM loss              %.3f\n", r.MLMLoss)
	verdict := "beats"
	if r.DiscAcc <= r.Baseline {
		verdict = "does NOT beat"
	}
	fmt.Fprintf(w, "  discriminator accuracy          %.4f, %s the all-original baseline %.4f (by %+.4f; means of the last %d logged steps)\n",
		r.DiscAcc, verdict, r.Baseline, r.DiscAcc-r.Baseline, metrics.SummaryWindow)
	learned := "below"
	if r.DiscBCE >= r.PriorBCE {
		learned = "not yet below"
	}
	fmt.Fprintf(w, "  discriminator BCE               %.4f, %s the base-rate entropy %.4f (what context-free guessing scores)\n", r.DiscBCE, learned, r.PriorBCE)
	fmt.Fprintf(w, "  checkpoint                      %s\n", r.Checkpoint)
	fmt.Fprintf(w, "  metrics                         %s\n", r.Metrics)
	fmt.Fprintf(w, "  loss plot                       %s\n", r.Plot)
	fmt.Fprintf(w, "  TensorBoard                     tensorboard --logdir %s\n", filepath.Dir(r.Events))
	if r.Prometheus != "" {
		fmt.Fprintf(w, "  Prometheus (while running)      http://%s/metrics\n", r.Prometheus)
	}
}

func (r *pipelineResult) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// lagProbe measures how far a consumer group is behind a topic's end.
type lagProbe struct {
	cl           *kafka.Client
	topic, group string
}

func newLagProbe(bc broker.Config, topic, group string) *lagProbe {
	cl, err := bc.Client()
	if err != nil {
		return &lagProbe{topic: topic, group: group}
	}
	return &lagProbe{cl: cl, topic: topic, group: group}
}

// end is the number of records in the topic (the sum of its partitions'
// end offsets).
func (l *lagProbe) end(ctx context.Context) (int64, error) {
	ends, _, err := l.ends(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, nil
}

func (l *lagProbe) ends(ctx context.Context) (map[int]int64, []int, error) {
	if l.cl == nil {
		return nil, nil, errors.New("no client")
	}
	meta, err := l.cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.topic}})
	if err != nil {
		return nil, nil, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, nil, fmt.Errorf("topic %s: no metadata", l.topic)
	}
	var reqs []kafka.OffsetRequest
	var parts []int
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		parts = append(parts, p.ID)
	}
	res, err := l.cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{l.topic: reqs}})
	if err != nil {
		return nil, nil, err
	}
	ends := map[int]int64{}
	for _, e := range res.Topics[l.topic] {
		if e.Error != nil {
			return nil, nil, e.Error
		}
		ends[e.Partition] = e.LastOffset
	}
	return ends, parts, nil
}

// lag is how many records of the topic the group has not committed.
func (l *lagProbe) lag(ctx context.Context) (int64, error) {
	ends, parts, err := l.ends(ctx)
	if err != nil {
		return 0, err
	}
	committed, err := l.cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: l.group, Topics: map[string][]int{l.topic: parts}})
	if err != nil {
		return 0, err
	}
	done := map[int]int64{}
	for _, c := range committed.Topics[l.topic] {
		done[c.Partition] = c.CommittedOffset
	}
	var total int64
	for p, e := range ends {
		total += max(e-max(done[p], 0), 0)
	}
	return total, nil
}

func (l *lagProbe) close() {
	if l.cl != nil {
		if t, ok := l.cl.Transport.(*kafka.Transport); ok {
			t.CloseIdleConnections()
		}
	}
}
