package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Step is what one logged training step reports.
type Step struct {
	Step         int64
	Loss         float64
	MLMLoss      float64
	MLMAcc       float64
	DiscLoss     float64
	DiscAcc      float64
	ReplacedFrac float64
	LR           float64
	TokensPerS   float64
	ExamplesPerS float64
	// Starvation is the fraction of step time spent waiting for data
	// (0 = the device never waited; 1 = it only waited).
	Starvation float64
}

// Prom holds the trainer's Prometheus metrics on its own registry (no
// global state: two trainers in one test process do not collide).
type Prom struct {
	Registry *prometheus.Registry

	step       prometheus.Gauge
	loss       *prometheus.GaugeVec
	acc        *prometheus.GaugeVec
	replaced   prometheus.Gauge
	lr         prometheus.Gauge
	tokensPerS prometheus.Gauge
	examplesPS prometheus.Gauge
	starvation prometheus.Gauge
	lag        *prometheus.GaugeVec
	// Counters the data feed updates directly.
	Examples   prometheus.Counter
	Batches    prometheus.Counter
	Duplicates prometheus.Counter
	BadBatches prometheus.Counter
	Wait       prometheus.Counter
}

// NewProm registers the metrics, labelled with the run name.
func NewProm(run string) *Prom {
	r := prometheus.NewRegistry()
	r.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"run": run}
	g := func(name, help string) prometheus.Gauge {
		m := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "electra", Subsystem: "train", Name: name, Help: help, ConstLabels: labels})
		r.MustRegister(m)
		return m
	}
	gv := func(name, help, label string) *prometheus.GaugeVec {
		m := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "electra", Subsystem: "train", Name: name, Help: help, ConstLabels: labels}, []string{label})
		r.MustRegister(m)
		return m
	}
	c := func(name, help string) prometheus.Counter {
		m := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "electra", Subsystem: "train", Name: name, Help: help, ConstLabels: labels})
		r.MustRegister(m)
		return m
	}
	return &Prom{
		Registry:   r,
		step:       g("step", "Last completed optimizer step."),
		loss:       gv("loss", "Loss at the last logged step, by kind (total = mlm + 50 x disc).", "kind"),
		acc:        gv("accuracy", "Accuracy at the last logged step: generator MLM and discriminator.", "head"),
		replaced:   g("replaced_fraction", "Fraction of non-pad tokens the generator replaced."),
		lr:         g("learning_rate", "Learning rate at the last logged step."),
		tokensPerS: g("tokens_per_second", "Non-pad tokens trained per second."),
		examplesPS: g("examples_per_second", "Examples trained per second."),
		starvation: g("starvation_ratio", "Fraction of step time spent waiting for data (goal ~0)."),
		lag:        gv("consumer_lag", "Messages between the trainer's position and the partition end.", "partition"),
		Examples:   c("examples_total", "Examples fed to the trainer."),
		Batches:    c("batches_total", "Arrow batches decoded from the examples topic."),
		Duplicates: c("duplicate_batches_total", "Redelivered batches dropped by batch id."),
		BadBatches: c("bad_batches_total", "Messages that were not valid example batches (dead-lettered)."),
		Wait:       c("data_wait_seconds_total", "Seconds the training loop waited for data."),
	}
}

// Observe publishes one logged step.
func (p *Prom) Observe(s Step) {
	p.step.Set(float64(s.Step))
	p.loss.WithLabelValues("total").Set(s.Loss)
	p.loss.WithLabelValues("mlm").Set(s.MLMLoss)
	p.loss.WithLabelValues("disc").Set(s.DiscLoss)
	p.acc.WithLabelValues("mlm").Set(s.MLMAcc)
	p.acc.WithLabelValues("disc").Set(s.DiscAcc)
	p.replaced.Set(s.ReplacedFrac)
	p.lr.Set(s.LR)
	p.tokensPerS.Set(s.TokensPerS)
	p.examplesPS.Set(s.ExamplesPerS)
	p.starvation.Set(s.Starvation)
}

// SetLag publishes the consumer lag of one partition.
func (p *Prom) SetLag(partition int, lag int64) {
	p.lag.WithLabelValues(strconv.Itoa(partition)).Set(float64(lag))
}

// Serve exposes /metrics on addr until ctx ends and returns the address it
// listens on (useful with port 0).
func (p *Prom) Serve(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics endpoint %s: %w (is another trainer using the port? pass another --metrics address)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{Registry: p.Registry}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("metrics endpoint stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), nil
}
