package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic to create if missing.
type TopicSpec struct {
	Name string
	// Partitions; default 1.
	Partitions int
	// ReplicationFactor; default 1 (the embedded broker has one node). Use
	// 3 on a real cluster.
	ReplicationFactor int
	// Configs are topic configs (retention.ms, max.message.bytes, ...).
	// DefaultTopicConfigs fills in what is missing.
	Configs map[string]string
}

// DefaultRetention is the retention every topic gets unless its spec says
// otherwise: the embedded broker only applies retention to topics that
// carry an explicit retention config, so we always set one.
const DefaultRetention = 7 * 24 * time.Hour

// DefaultTopicConfigs are merged under each TopicSpec's Configs.
func DefaultTopicConfigs() map[string]string {
	return map[string]string{
		"retention.ms":      strconv.FormatInt(DefaultRetention.Milliseconds(), 10),
		"max.message.bytes": strconv.Itoa(MaxMessageBytes),
	}
}

// MaxMessageBytes is the record batch size limit we configure on topics,
// the embedded broker and producers.
const MaxMessageBytes = 16 << 20

// EnsureTopics creates the topics that do not exist yet and waits until the
// cluster's metadata lists every one with all its partitions led. Existing
// topics are left as they are (their partition count is not changed).
func EnsureTopics(ctx context.Context, cfg Config, specs []TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	cl, err := cfg.Client()
	if err != nil {
		return err
	}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()

	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		if s.Name == "" {
			return errors.New("ensure topics: a TopicSpec has an empty Name")
		}
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: max(s.Partitions, 1), ReplicationFactor: max(s.ReplicationFactor, 1)}
		conf := DefaultTopicConfigs()
		maps.Copy(conf, s.Configs)
		for _, k := range slices.Sorted(maps.Keys(conf)) {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: conf[k]})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics on %v: %w", cfg.Brokers, err)
	}
	for name, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %q on %v: %w", name, cfg.Brokers, e)
		}
	}
	return waitTopics(ctx, cl, specs)
}

func waitTopics(ctx context.Context, cl *kafka.Client, specs []TopicSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	var last error
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err == nil {
			last = nil
			for _, t := range md.Topics {
				if t.Error != nil {
					last = fmt.Errorf("topic %q: %w", t.Name, t.Error)
					break
				}
				if len(t.Partitions) == 0 {
					last = fmt.Errorf("topic %q has no partitions yet", t.Name)
					break
				}
			}
			if last == nil && len(md.Topics) == len(names) {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topics %v to appear in metadata: %w (last: %v)", names, ctx.Err(), last)
		case <-time.After(delay):
		}
	}
}

// PartitionCount returns the number of partitions topic has.
func PartitionCount(ctx context.Context, cfg Config, topic string) (int, error) {
	cl, err := cfg.Client()
	if err != nil {
		return 0, err
	}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata of %s: topic not listed", topic)
}
