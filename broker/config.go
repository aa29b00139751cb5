package broker

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Config says how to reach a Kafka cluster. The zero value is not usable:
// Brokers is required. Every stage embeds one of these.
type Config struct {
	// Brokers are bootstrap addresses, host:port.
	Brokers []string
	// ClientID is sent to the broker for its logs and quotas; default
	// "electra".
	ClientID string
	// Security holds TLS and SASL settings; its zero value is plaintext.
	Security Security
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("broker config: Brokers is empty; pass --brokers host:port (or start `electra broker`)")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("broker config: Brokers entry %q is not host:port: %w", b, err)
		}
	}
	return nil
}

func (c Config) clientID() string {
	if c.ClientID == "" {
		return "electra"
	}
	return c.ClientID
}

// ParseBrokers splits a comma-separated --brokers flag value.
func ParseBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Transport returns a new kafka-go transport for one Writer or Client.
// Each caller gets its own: kafka-go's shared DefaultTransport caches
// metadata for seconds (a just-created topic reads as unknown) and keeps
// dead connections after a broker restart.
func (c Config) Transport() (*kafka.Transport, error) {
	t, err := c.Security.Transport()
	if err != nil {
		return nil, fmt.Errorf("broker transport: %w", err)
	}
	t.ClientID = c.clientID()
	if t.MetadataTTL == 0 {
		t.MetadataTTL = time.Second
	}
	return t, nil
}

// Dialer returns a new kafka-go dialer (used by kafka.Reader).
func (c Config) Dialer() (*kafka.Dialer, error) {
	d, err := c.Security.Dialer()
	if err != nil {
		return nil, fmt.Errorf("broker dialer: %w", err)
	}
	d.ClientID = c.clientID()
	return d, nil
}

// Client returns a kafka-go admin/metadata client with its own transport.
func (c Config) Client() (*kafka.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: t, Timeout: 30 * time.Second}, nil
}
