package broker

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetsCollector reports, at each scrape, every partition's log start
// and end offsets and every consumer group's lag, asked of the broker over
// the Kafka protocol (kfake keeps no counters of its own).
type offsetsCollector struct {
	adm                    *kadm.Client
	start, end, lag, group *prometheus.Desc
}

// NewOffsetsCollector returns a Prometheus collector for the cluster at
// addrs; close the returned client when done.
func NewOffsetsCollector(addrs []string) (prometheus.Collector, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, nil, err
	}
	c := &offsetsCollector{
		adm:   kadm.NewClient(cl),
		start: prometheus.NewDesc("electra_broker_log_start_offset", "First offset still held (retention moves it).", []string{"topic", "partition"}, nil),
		end:   prometheus.NewDesc("electra_broker_log_end_offset", "Offset the next record will get: records ever written.", []string{"topic", "partition"}, nil),
		lag:   prometheus.NewDesc("electra_broker_group_lag", "Records not yet committed by a consumer group.", []string{"group", "topic", "partition"}, nil),
		group: prometheus.NewDesc("electra_broker_up", "1 if the last scrape reached the broker.", nil, nil),
	}
	return c, cl.Close, nil
}

func (c *offsetsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.start
	ch <- c.end
	ch <- c.lag
	ch <- c.group
}

func (c *offsetsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	defer func() { ch <- prometheus.MustNewConstMetric(c.group, prometheus.GaugeValue, up) }()
	ends, err := c.adm.ListEndOffsets(ctx)
	if err != nil {
		up = 0
		return
	}
	ends.Each(func(o kadm.ListedOffset) {
		ch <- prometheus.MustNewConstMetric(c.end, prometheus.GaugeValue, float64(o.Offset), o.Topic, itoa32(o.Partition))
	})
	if starts, err := c.adm.ListStartOffsets(ctx); err == nil {
		starts.Each(func(o kadm.ListedOffset) {
			ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, float64(o.Offset), o.Topic, itoa32(o.Partition))
		})
	}
	groups, err := c.adm.ListGroups(ctx)
	if err != nil {
		return
	}
	lags, err := c.adm.Lag(ctx, groups.Groups()...)
	if err != nil {
		return
	}
	for g, dl := range lags {
		for topic, parts := range dl.Lag {
			for p, l := range parts {
				ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(l.Lag), g, topic, itoa32(p))
			}
		}
	}
}

func itoa32(p int32) string { return strconv.Itoa(int(p)) }
