package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/electra-go/electra/pipelines"
	"github.com/electra-go/electra/schemas"
	"github.com/electra-go/electra/trainer"
	"github.com/electra-go/electra/trainer/stream"
)

// trainKafkaFlags are `electra train`'s flags for training from the
// examples topic as a consumer group member (instead of --data files).
type trainKafkaFlags struct {
	kafka                           *kafkaFlags
	pipeline, topic, group, metrics *string
	prefetch, seqLen                *int
}

func addTrainKafkaFlags(fs *flag.FlagSet) *trainKafkaFlags {
	return &trainKafkaFlags{
		kafka:    addKafkaFlags(fs, "train from Kafka: bootstrap servers host:port[,...] (instead of --data)"),
		pipeline: fs.String("pipeline", "", pipelineFlagHelp),
		topic:    fs.String("topic", schemas.TopicExamples, "Kafka: the examples topic"),
		group:    fs.String("group", "electra-trainer", "Kafka: consumer group; trainers in one group split the partitions (docs/scaling.md)"),
		metrics:  fs.String("metrics", "", "serve Prometheus metrics on this address (e.g. :9100); empty disables"),
		prefetch: fs.Int("prefetch", 8, "Kafka: decoded messages queued per partition ahead of the step"),
		seqLen:   fs.Int("seq-len", 0, "Kafka: example length of the topic (0 = the preset's); sets the masking budget"),
	}
}

func (k *trainKafkaFlags) enabled() bool { return *k.kafka.brokers != "" }

// trainFromKafka runs opts on the examples topic. Offsets are committed
// only at durable checkpoints and a restart with --resume continues at the
// checkpoint's exact position; TensorBoard events and loss.png go to the
// run directory beside metrics.jsonl.
func trainFromKafka(ctx context.Context, k *trainKafkaFlags, opts trainer.RunOptions, pl *pipelines.Pipeline) error {
	bc, err := k.kafka.config(ctx, "electra-train", pl)
	if err != nil {
		return err
	}
	if *k.seqLen > 0 && *k.seqLen != opts.Config.SeqLen {
		opts.Config.SeqLen = *k.seqLen
		opts.Config.MaxPredictions = int((opts.Config.MaskProb + 0.005) * float64(*k.seqLen))
	}
	res, err := stream.Train(ctx, stream.TrainConfig{
		Stream: stream.Config{Broker: bc, Topic: *k.topic, Group: *k.group, BatchSize: opts.Config.BatchSize, Prefetch: *k.prefetch},
		Run:    opts, RunName: *k.group, MetricsAddr: *k.metrics,
		OnServe: func(addr string) { fmt.Fprintf(os.Stderr, "Prometheus metrics: http://%s/metrics\n", addr) },
	})
	if res.Last.Step > 0 {
		fmt.Fprintf(os.Stderr, "step %d: disc accuracy %.4f vs all-original baseline %.4f; starvation %.1f%%; plot %s; TensorBoard events %s (%s)\n",
			res.Last.Step, res.DiscAcc, res.Baseline, 100*res.Starvation, res.Plot, res.Events, time.Now().Format(time.TimeOnly))
	}
	return err
}
