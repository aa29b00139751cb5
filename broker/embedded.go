package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedConfig configures the in-process Kafka-protocol broker (kfake).
// Zero values are the defaults noted on each field, except DataDir.
type EmbeddedConfig struct {
	// DataDir holds the log and committed offsets so they survive a restart
	// or a crash. Required unless InMemory is set.
	DataDir string
	// InMemory keeps everything in RAM (tests that want no disk). Only
	// honoured when DataDir is empty.
	InMemory bool
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Partitions for topics created implicitly; default 1. Topics created
	// with EnsureTopics get the partitions their spec names.
	Partitions int
	// MaxMessageBytes is the broker's message.max.bytes; default 16 MiB.
	MaxMessageBytes int
	// RetentionCheck is how often retention runs on topics that have a
	// retention config; default 5 minutes.
	RetentionCheck time.Duration
	// GroupMinSessionTimeout; default 1 s so that tests and a restarted
	// single-machine pipeline rebalance quickly (Kafka's default is 6 s).
	GroupMinSessionTimeout time.Duration
	// SyncWrites fsyncs every produced batch: slower, but an acknowledged
	// write survives a power loss, not just a process crash.
	SyncWrites bool
	// Logger receives broker warnings and errors; default slog.Default().
	Logger *slog.Logger
	// Options are extra kfake options (TLS, SASL users) appended last.
	Options []kfake.Opt
}

// Embedded is a running in-process broker.
type Embedded struct {
	c      *kfake.Cluster
	addrs  []string
	once   sync.Once
	closed chan struct{}
}

// StartEmbedded starts the broker; it keeps running until Close or until ctx
// is cancelled.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.DataDir == "" && !cfg.InMemory {
		return nil, errors.New("embedded broker: DataDir is empty; give a directory (or set InMemory for a throw-away broker)")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("embedded broker: Port %d is out of range", cfg.Port)
	}
	maxMsg := cfg.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = MaxMessageBytes
	}
	check := cfg.RetentionCheck
	if check <= 0 {
		check = 5 * time.Minute
	}
	minSession := cfg.GroupMinSessionTimeout
	if minSession <= 0 {
		minSession = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(cfg.Port),
		kfake.DefaultNumPartitions(max(cfg.Partitions, 1)),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(minSession),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes":      strconv.Itoa(maxMsg),
			"log.cleaner.backoff.ms": strconv.FormatInt(check.Milliseconds(), 10),
		}),
		kfake.WithLogger(slogAdapter{log.With("component", "broker")}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	opts = append(opts, cfg.Options...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker (data dir %q, port %d): %w", cfg.DataDir, cfg.Port, err)
	}
	// Asked once: kfake answers through its run loop, which is gone after
	// Close, and callers still want the addresses for their messages then.
	e := &Embedded{c: c, addrs: c.ListenAddrs(), closed: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.closed:
		}
	}()
	return e, nil
}

// Addrs are the listening host:port addresses, for Config.Brokers.
func (e *Embedded) Addrs() []string { return slices.Clone(e.addrs) }

// Config returns a client Config pointing at this broker.
func (e *Embedded) Config() Config { return Config{Brokers: e.Addrs()} }

// Close stops the broker and flushes its data directory. Safe to call more
// than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.closed)
		e.c.Close()
	})
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, format string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	case kfake.LogLevelInfo:
		l = slog.LevelDebug // kfake logs every request at info
	default:
		l = slog.LevelDebug - 4
	}
	if a.l.Enabled(context.Background(), l) {
		a.l.Log(context.Background(), l, fmt.Sprintf(format, args...))
	}
}
