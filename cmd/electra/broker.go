package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/schemas"
)

func init() {
	register(&command{
		name:    "broker",
		summary: "run the embedded Kafka-protocol broker (kfake) with a data directory",
		run:     runBroker,
	})
}

func runBroker(ctx context.Context, args []string) error {
	fs := newFlags("broker", "--data-dir DIR [--port 9092]",
		"Runs a single-node Kafka-protocol broker (github.com/twmb/franz-go/pkg/kfake) on 127.0.0.1 that keeps\n"+
			"its log and committed offsets in --data-dir, so they survive a restart. Any Kafka client can use it;\n"+
			"point the other subcommands at it with --brokers 127.0.0.1:PORT. Stops on SIGINT/SIGTERM.")
	dataDir := fs.String("data-dir", "", "directory for the log and offsets (required)")
	port := fs.Int("port", 9092, "port to listen on at 127.0.0.1 (0 picks a free one)")
	partitions := fs.Int("partitions", 1, "partitions for the electra topics created at start and for auto-created topics")
	createTopics := fs.Bool("create-topics", true, "create "+schemas.TopicDocs+" and "+schemas.TopicDocsDLQ+" at start")
	retentionCheck := fs.Duration("retention-check", 5*time.Minute, "how often retention runs on topics with retention configs")
	syncWrites := fs.Bool("sync-writes", false, "fsync every produced batch (survives power loss, slower)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics (log start/end offsets, group lag) on this address, e.g. :9308; empty disables")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		fmt.Fprintln(fs.Output(), "electra broker: --data-dir is required (the broker never runs RAM-only from the CLI)")
		fs.Usage()
		return errUsage
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{
		DataDir: *dataDir, Port: *port, Partitions: *partitions, RetentionCheck: *retentionCheck, SyncWrites: *syncWrites,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	if *createTopics {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := broker.EnsureTopics(tctx, b.Config(), []broker.TopicSpec{
			{Name: schemas.TopicDocs, Partitions: *partitions},
			{Name: schemas.TopicDocsDLQ, Partitions: 1},
		})
		cancel()
		if err != nil {
			return err
		}
	}
	if *metricsAddr != "" {
		col, closeCol, err := broker.NewOffsetsCollector(b.Addrs())
		if err != nil {
			return err
		}
		defer closeCol()
		reg := prometheus.NewRegistry()
		reg.MustRegister(col)
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics address: %w", err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		slog.Info("broker metrics", "addr", ln.Addr().String())
	}
	slog.Info("broker listening", "addrs", b.Addrs(), "data_dir", *dataDir)
	fmt.Fprintf(os.Stdout, "broker listening on %v (data in %s)\n", b.Addrs(), *dataDir)
	<-ctx.Done()
	slog.Info("broker stopping")
	return nil
}
