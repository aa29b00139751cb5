package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/schemas"

	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/metrics"
)

// TrainConfig is a training run fed from the examples topic.
type TrainConfig struct {
	Stream Config
	// Run is the trainer's configuration; its Progress and OnCheckpoint
	// hooks, if set, are called after ours.
	Run trainer.RunOptions
	// RunName labels the Prometheus metrics; default the stream's group.
	RunName string
	// MetricsAddr serves Prometheus /metrics (e.g. ":9100", or
	// "127.0.0.1:0" for any free port); empty = off.
	MetricsAddr string
	// OnServe, if set, is told the address the endpoint listens on.
	OnServe func(addr string)
}

// Result is where a run ended and what it reached.
type Result struct {
	Last metrics.Step
	// DiscAcc is the discriminator accuracy and Baseline the all-original
	// accuracy (1 - replaced fraction: what a discriminator that always
	// answers "original" scores), both averaged over the last
	// metrics.SummaryWindow logged steps.
	DiscAcc, Baseline float64
	// DiscBCE and PriorBCE are the discriminator's loss and the base-rate
	// entropy it must get under (see metrics.Recorder.BCE).
	DiscBCE, PriorBCE float64
	Plot              string
	Events            string
	MetricsAddr       string
	// Starvation is the fraction of the run's wall time the loop waited
	// for data.
	Starvation float64
}

// Train runs trainer.Run on a Source over the examples topic, publishing
// every step to Prometheus and TensorBoard and redrawing the loss plot at
// each checkpoint. The group's offsets are committed only after the
// trainer reports a checkpoint durable, to the position that checkpoint
// stores. The calling goroutine must hold the torch thread lock.
func Train(ctx context.Context, tc TrainConfig) (Result, error) {
	var res Result
	if tc.RunName == "" {
		tc.RunName = tc.Stream.Group
	}
	rec, err := metrics.NewRecorder(tc.Run.OutDir, tc.RunName)
	if err != nil {
		return res, err
	}
	defer rec.Close()
	tc.Stream.Prom = rec.Prom
	if tc.Stream.OnBadMessage == nil {
		// Messages that are not example batches are set aside with the
		// reason, never trained on and never silently gone.
		dl := &deadLetterFile{path: filepath.Join(tc.Run.OutDir, DeadLetterFile)}
		defer dl.close()
		tc.Stream.OnBadMessage = dl.add
	}
	if tc.MetricsAddr != "" {
		addr, err := rec.Serve(ctx, tc.MetricsAddr)
		if err != nil {
			return res, err
		}
		res.MetricsAddr = addr
		if tc.OnServe != nil {
			tc.OnServe(addr)
		}
	}
	res.Plot, res.Events = rec.PlotPath(), rec.EventsPath()

	var (
		mu  sync.Mutex
		src *Source
	)
	open := func(from trainer.Position) (trainer.Source, error) {
		s, err := Open(ctx, tc.Stream, from)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		src = s
		mu.Unlock()
		return s, nil
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if src != nil {
			src.Close()
		}
	}()

	logEvery := max(tc.Run.LogEvery, 1)
	var (
		last                = time.Now()
		waitAcc, totalAcc   time.Duration
		runWait, runTotal   time.Duration
		examplesAcc, tokAcc int64
		userProgress        = tc.Run.Progress
		userCheckpoint      = tc.Run.OnCheckpoint
		batchSize           = int64(tc.Stream.BatchSize)
		recordErr           error
	)
	tc.Run.Progress = func(m trainer.Metrics) {
		now := time.Now()
		dt := now.Sub(last)
		last = now
		step := time.Duration(m.StepS * float64(time.Second))
		// What is not the step is waiting for data (plus a little
		// bookkeeping): the starvation the prefetch queue should hide.
		wait := max(dt-step, 0)
		waitAcc += wait
		totalAcc += dt
		runWait += wait
		runTotal += dt
		examplesAcc += batchSize
		tokAcc += int64(m.Tokens)
		if m.Step%logEvery == 0 {
			secs := totalAcc.Seconds()
			s := metrics.Step{
				Step: int64(m.Step), Loss: m.Loss, MLMLoss: m.MLMLoss, MLMAcc: m.MLMAcc, DiscLoss: m.DiscLoss,
				DiscAcc: m.DiscAcc, ReplacedFrac: m.ReplacedFrac, LR: m.LR,
			}
			if secs > 0 {
				s.TokensPerS = float64(tokAcc) / secs
				s.ExamplesPerS = float64(examplesAcc) / secs
				s.Starvation = waitAcc.Seconds() / secs
			}
			if err := rec.Observe(s); err != nil && recordErr == nil {
				recordErr = err
			}
			waitAcc, totalAcc, examplesAcc, tokAcc = 0, 0, 0, 0
		}
		if userProgress != nil {
			userProgress(m)
		}
	}
	tc.Run.OnCheckpoint = func(path string, st trainer.State) error {
		if err := rec.Checkpoint(); err != nil {
			return err
		}
		mu.Lock()
		s := src
		mu.Unlock()
		if s != nil && st.Position != "" {
			// The checkpoint is durable: only now may Kafka forget what
			// came before its position.
			if err := s.Commit(context.WithoutCancel(ctx), st.Position); err != nil {
				return fmt.Errorf("checkpoint %s is written but %w", path, err)
			}
		}
		// The checkpoint's own time is not data starvation.
		last = time.Now()
		if userCheckpoint != nil {
			return userCheckpoint(path, st)
		}
		return nil
	}
	err = trainer.Run(ctx, tc.Run, open)
	if recordErr != nil {
		err = errors.Join(err, fmt.Errorf("metrics: %w", recordErr))
	}
	if last, acc, base, serr := rec.Summary(); serr == nil {
		res.Last, res.DiscAcc, res.Baseline = last, acc, base
		res.DiscBCE, res.PriorBCE = rec.BCE()
	}
	if runTotal > 0 {
		res.Starvation = runWait.Seconds() / runTotal.Seconds()
	}
	return res, err
}

// DeadLetterFile, in the run directory, lists the examples-topic messages
// that were not valid batches: topic, partition, offset, batch id, reason.
const DeadLetterFile = "stream-deadletter.jsonl"

type deadLetterFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func (d *deadLetterFile) add(m kafka.Message, reason error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			slog.Error("stream dead letters: cannot open file; the message is only logged", "path", d.path, "err", err)
			return
		}
		d.f = f
	}
	var id string
	for _, h := range m.Headers {
		if h.Key == schemas.ExamplesHeaderBatchID {
			id = string(h.Value)
		}
	}
	line, _ := json.Marshal(map[string]any{"topic": m.Topic, "partition": m.Partition, "offset": m.Offset,
		"batch_id": id, "bytes": len(m.Value), "reason": reason.Error(), "time": time.Now().UTC().Format(time.RFC3339)})
	if _, err := d.f.Write(append(line, '\n')); err != nil {
		slog.Error("stream dead letters: write failed", "path", d.path, "err", err)
	}
}

func (d *deadLetterFile) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		d.f.Close()
	}
}
