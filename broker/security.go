package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kgo"
	kplain "github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security is how every stage's clients reach a secured Kafka: TLS (server
// verification against a CA, optionally a client certificate) and SASL
// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). The zero value is plaintext with
// no authentication, which is what the embedded broker speaks.
//
// Secrets never live in this struct: the password is a SecretRef that names
// an environment variable or a file, read only when a client is built, so a
// Security can be logged, printed or written back to YAML safely.
type Security struct {
	TLS  *TLSConfig  `yaml:"tls,omitempty" json:"tls,omitempty"`
	SASL *SASLConfig `yaml:"sasl,omitempty" json:"sasl,omitempty"`
}

// TLSConfig switches TLS on. Every path is a PEM file.
type TLSConfig struct {
	// CA verifies the brokers' certificates. Empty: the system roots.
	CA string `yaml:"ca,omitempty" json:"ca,omitempty"`
	// Cert and Key are the client certificate and its private key for
	// mutual TLS; both or neither.
	Cert string `yaml:"cert,omitempty" json:"cert,omitempty"`
	Key  string `yaml:"key,omitempty" json:"key,omitempty"`
	// ServerName overrides the name checked against the broker's
	// certificate. Empty: the host part of the broker address.
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// InsecureSkipVerify disables certificate verification: for a test
	// cluster only, it defeats the point of TLS.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// SASLConfig switches SASL authentication on.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (case-insensitive).
	Mechanism string `yaml:"mechanism" json:"mechanism"`
	Username  string `yaml:"username" json:"username"`
	// Password names where the password is read from: "env:NAME" or
	// "file:PATH". A literal password is refused.
	Password SecretRef `yaml:"password" json:"password"`
}

// SecretRef names where a secret lives, never the secret itself:
// "env:NAME" (an environment variable) or "file:PATH" (the file's content,
// trailing newline removed: the shape of Kubernetes and Docker secrets).
type SecretRef string

// Resolve reads the secret. Errors name the reference, never a value.
func (r SecretRef) Resolve() (string, error) {
	kind, name, ok := strings.Cut(string(r), ":")
	if !ok || name == "" {
		return "", fmt.Errorf("secret %q: want env:NAME or file:PATH (literal secrets are not accepted in configuration)", r.redacted())
	}
	switch kind {
	case "env":
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("secret %s: environment variable %s is not set", r, name)
		}
		if v == "" {
			return "", fmt.Errorf("secret %s: environment variable %s is empty", r, name)
		}
		return v, nil
	case "file":
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", r, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret %s: file %s is empty", r, name)
		}
		return v, nil
	default:
		return "", fmt.Errorf("secret %q: unknown source %q; want env:NAME or file:PATH", r.redacted(), kind)
	}
}

// redacted is what an error may show of a reference that does not parse:
// it could be a literal password typed where a reference belongs.
func (r SecretRef) redacted() string {
	kind, _, ok := strings.Cut(string(r), ":")
	if ok && (kind == "env" || kind == "file") {
		return string(r)
	}
	return "[redacted]"
}

// String, LogValue and the marshallers show the reference and keep a
// literal password, typed where a reference belongs, out of logs and dumps.
func (r SecretRef) String() string { return r.redacted() }

// LogValue implements slog.LogValuer.
func (r SecretRef) LogValue() slog.Value { return slog.StringValue(r.redacted()) }

// MarshalText implements encoding.TextMarshaler (JSON logs, YAML dumps).
func (r SecretRef) MarshalText() ([]byte, error) { return []byte(r.redacted()), nil }

// Validate checks the configuration without touching the network or
// reading secrets: the checks a pipeline loader runs up front. Errors name
// the key (relative to the security block).
func (s Security) Validate() error {
	var errs []error
	if t := s.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			errs = append(errs, errors.New("tls.cert and tls.key: give both (mutual TLS) or neither"))
		}
	}
	if a := s.SASL; a != nil {
		if _, err := mechanismName(a.Mechanism); err != nil {
			errs = append(errs, fmt.Errorf("sasl.mechanism: %w", err))
		}
		if a.Username == "" {
			errs = append(errs, errors.New("sasl.username: required"))
		}
		kind, name, ok := strings.Cut(string(a.Password), ":")
		if !ok || name == "" || (kind != "env" && kind != "file") {
			errs = append(errs, fmt.Errorf("sasl.password: %q is not env:NAME or file:PATH (put the password in an environment variable or a file, never in the pipeline file)", a.Password.redacted()))
		}
	}
	return errors.Join(errs...)
}

func mechanismName(m string) (string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(m)); u {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		return u, nil
	default:
		return "", fmt.Errorf("%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
	}
}

// TLSConfig builds the client TLS configuration, or nil when TLS is off.
func (s Security) TLSConfig() (*tls.Config, error) {
	t := s.TLS
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", t.CA)
		}
		c.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		if t.Cert == "" || t.Key == "" {
			return nil, errors.New("tls.cert and tls.key: give both (mutual TLS) or neither")
		}
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/tls.key (%s, %s): %w", t.Cert, t.Key, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// credentials resolves the mechanism's canonical name and the password, the
// part both client libraries (kafka-go, franz-go) need.
func (a *SASLConfig) credentials() (mechanism, password string, err error) {
	name, err := mechanismName(a.Mechanism)
	if err != nil {
		return "", "", fmt.Errorf("sasl.mechanism: %w", err)
	}
	pass, err := a.Password.Resolve()
	if err != nil {
		return "", "", fmt.Errorf("sasl.password: %w", err)
	}
	return name, pass, nil
}

// mechanism builds kafka-go's SASL mechanism, reading the password now.
func (s Security) mechanism() (sasl.Mechanism, error) {
	a := s.SASL
	if a == nil {
		return nil, nil
	}
	name, pass, err := a.credentials()
	if err != nil {
		return nil, err
	}
	switch name {
	case "PLAIN":
		return plain.Mechanism{Username: a.Username, Password: pass}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, a.Username, pass)
	default:
		return scram.Mechanism(scram.SHA512, a.Username, pass)
	}
}

// Transport returns a new kafka-go Transport for Writers and Clients with
// TLS and SASL applied. Each caller gets its own: the shared default caches
// metadata and keeps dead connections (see NOTES).
func (s Security) Transport() (*kafka.Transport, error) {
	t, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{TLS: t, SASL: m, DialTimeout: 10 * time.Second}, nil
}

// Dialer returns a kafka-go Dialer for Readers (consumer groups) with TLS
// and SASL applied.
func (s Security) Dialer() (*kafka.Dialer, error) {
	t, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: dialBuffered, TLS: t, SASLMechanism: m}, nil
}

// KgoOpts are the same settings for franz-go clients (admin, tests).
func (s Security) KgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	t, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	if t != nil {
		opts = append(opts, kgo.DialTLSConfig(t))
	}
	if a := s.SASL; a != nil {
		name, pass, err := a.credentials()
		if err != nil {
			return nil, err
		}
		switch name {
		case "PLAIN":
			opts = append(opts, kgo.SASL(kplain.Auth{User: a.Username, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(kscram.Auth{User: a.Username, Pass: pass}.AsSha256Mechanism()))
		default:
			opts = append(opts, kgo.SASL(kscram.Auth{User: a.Username, Pass: pass}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

// Check connects to one of the brokers and authenticates, so that a wrong
// password or certificate stops a stage at start-up with an explanation
// instead of as retries deep inside a Writer.
func (s Security) Check(ctx context.Context, brokers []string) error {
	if len(brokers) == 0 {
		return errors.New("no broker addresses to check")
	}
	d, err := s.Dialer()
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			// A metadata round trip proves the session works, not just the
			// handshake.
			_, err = conn.Brokers()
			conn.Close()
			if err == nil {
				return nil
			}
		}
		errs = append(errs, s.Explain(b, err))
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// Explain turns the errors a misconfigured secure connection produces
// (a closed connection, a bare SASL error code, a TLS record error) into
// one that says which setting to look at, by its pipeline key and its
// command-line flag. Errors it does not recognise come
// back wrapped with the broker address only.
func (s Security) Explain(addr string, err error) error {
	if err == nil {
		return nil
	}
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		recHdr      tls.RecordHeaderError
		certInvalid x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed) && s.SASL != nil:
		return fmt.Errorf("broker %s: SASL %s authentication as user %q failed: the broker rejected the credentials; check sasl.username (--sasl-user) and the password in %s: %w",
			addr, strings.ToUpper(s.SASL.Mechanism), s.SASL.Username, s.SASL.Password, err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism) && s.SASL != nil:
		return fmt.Errorf("broker %s: does not offer SASL mechanism %s; set sasl.mechanism (--sasl-mechanism) to one the cluster enables: %w", addr, strings.ToUpper(s.SASL.Mechanism), err)
	case errors.Is(err, kafka.IllegalSASLState) && s.SASL == nil:
		return fmt.Errorf("broker %s: requires SASL authentication; add a sasl block (mechanism, username, password), or on the command line --sasl-mechanism, --sasl-user, --sasl-password: %w", addr, err)
	case errors.As(err, &unknownAuth), errors.As(err, &certInvalid):
		return fmt.Errorf("broker %s: its TLS certificate is not trusted; set tls.ca (--tls-ca) to the CA that signed it: %w", addr, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("broker %s: its TLS certificate is for another name; fix the address or set tls.server_name (--tls-server-name): %w", addr, err)
	case errors.As(err, &recHdr):
		return fmt.Errorf("broker %s: did not answer TLS; it probably listens in plaintext: remove the tls block (--tls flags) or use its TLS port: %w", addr, err)
	case s.TLS == nil && isClosedEarly(err):
		return fmt.Errorf("broker %s: closed the connection before answering; it probably expects TLS (add a tls block, or --tls/--tls-ca) or SASL (add a sasl block, or --sasl-*): %w", addr, err)
	case s.SASL == nil && isClosedEarly(err):
		return fmt.Errorf("broker %s: closed the connection before answering; it probably requires SASL authentication: add a sasl block (mechanism, username, password), or --sasl-mechanism, --sasl-user, --sasl-password: %w", addr, err)
	case s.SASL != nil && isClosedEarly(err):
		return fmt.Errorf("broker %s: closed the connection during SASL %s authentication as user %q: wrong username or password (read from %s)? %w",
			addr, strings.ToUpper(s.SASL.Mechanism), s.SASL.Username, s.SASL.Password, err)
	}
	return fmt.Errorf("broker %s: %w", addr, err)
}

func isClosedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
