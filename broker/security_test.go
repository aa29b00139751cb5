package broker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/broker/brokertest"
)

// secureCluster starts kfake with mutual TLS and one SASL user per
// mechanism (brokertest.Users).
func secureCluster(t *testing.T, p *brokertest.PKI) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}, p.SecureOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestSecurityAgainstSecuredBroker produces through kafka-go's Transport,
// reads back through its Dialer-based Reader and through franz-go, over
// mutual TLS, with each SASL mechanism.
func TestSecurityAgainstSecuredBroker(t *testing.T) {
	p := brokertest.NewPKI(t)
	c := secureCluster(t, p)
	addrs := c.ListenAddrs()
	secretFile := filepath.Join(t.TempDir(), "scram512")
	if err := os.WriteFile(secretFile, []byte("s3cret-SCRAM-SHA-512\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ELECTRA_TEST_PLAIN", "s3cret-PLAIN")
	t.Setenv("ELECTRA_TEST_SCRAM256", "s3cret-SCRAM-SHA-256")

	tlsCfg := &TLSConfig{CA: p.CAFile, Cert: p.ClientCert, Key: p.ClientKey}
	for _, tc := range []struct {
		mech, user string
		pass       SecretRef
	}{
		{"PLAIN", "alice", "env:ELECTRA_TEST_PLAIN"},
		{"scram-sha-256", "bob", "env:ELECTRA_TEST_SCRAM256"},
		{"SCRAM-SHA-512", "carol", SecretRef("file:" + secretFile)},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sec := Security{TLS: tlsCfg, SASL: &SASLConfig{Mechanism: tc.mech, Username: tc.user, Password: tc.pass}}
			if err := sec.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := sec.Check(ctx, addrs); err != nil {
				t.Fatalf("Check: %v", err)
			}
			topic := "secure-" + strings.ToLower(tc.mech)
			tr, err := sec.Transport()
			if err != nil {
				t.Fatal(err)
			}
			w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Transport: tr, AllowAutoTopicCreation: true, RequiredAcks: kafka.RequireAll}
			want := "hello over " + tc.mech
			var werr error
			for range 20 { // auto-created topic: first writes may race its creation
				if werr = w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte(want)}); werr == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			w.Close()
			if werr != nil {
				t.Fatalf("write: %v", sec.Explain(addrs[0], werr))
			}

			d, err := sec.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: 0, Dialer: d, MaxWait: 100 * time.Millisecond})
			m, err := r.ReadMessage(ctx)
			r.Close()
			if err != nil {
				t.Fatalf("read via Dialer: %v", err)
			}
			if string(m.Value) != want {
				t.Fatalf("read %q, want %q", m.Value, want)
			}

			opts, err := sec.KgoOpts()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			fs := cl.PollFetches(ctx)
			if errs := fs.Errors(); len(errs) > 0 {
				t.Fatalf("franz-go fetch: %v", errs[0].Err)
			}
			recs := fs.Records()
			if len(recs) != 1 || string(recs[0].Value) != want {
				t.Fatalf("franz-go read %d records, want exactly %q", len(recs), want)
			}
		})
	}
}

// TestSecurityMisconfigured: each common mistake ends in an error that names
// the setting to fix, never in a bare "unexpected EOF", and never shows the
// password.
func TestSecurityMisconfigured(t *testing.T) {
	p := brokertest.NewPKI(t)
	c := secureCluster(t, p)
	addrs := c.ListenAddrs()
	const wrong = "definitely-not-the-password"
	t.Setenv("ELECTRA_TEST_WRONG", wrong)
	t.Setenv("ELECTRA_TEST_PLAIN", "s3cret-PLAIN")
	good := &TLSConfig{CA: p.CAFile, Cert: p.ClientCert, Key: p.ClientKey}

	for _, tc := range []struct {
		name string
		sec  Security
		want []string
	}{
		{"wrong password PLAIN", Security{TLS: good, SASL: &SASLConfig{Mechanism: "PLAIN", Username: "alice", Password: "env:ELECTRA_TEST_WRONG"}},
			[]string{`SASL PLAIN authentication as user "alice" failed`, "env:ELECTRA_TEST_WRONG"}},
		{"wrong password SCRAM-SHA-256", Security{TLS: good, SASL: &SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "bob", Password: "env:ELECTRA_TEST_WRONG"}},
			[]string{`SASL SCRAM-SHA-256 authentication as user "bob" failed`}},
		{"unknown user SCRAM-SHA-512", Security{TLS: good, SASL: &SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "mallory", Password: "env:ELECTRA_TEST_WRONG"}},
			[]string{`authentication as user "mallory" failed`}},
		{"untrusted CA", Security{TLS: &TLSConfig{CA: p.OtherCA, Cert: p.ClientCert, Key: p.ClientKey}, SASL: &SASLConfig{Mechanism: "PLAIN", Username: "alice", Password: "env:ELECTRA_TEST_PLAIN"}},
			[]string{"not trusted", "tls.ca"}},
		{"no SASL block", Security{TLS: good},
			[]string{"requires SASL", "add a sasl block"}},
		{"plaintext to TLS listener", Security{SASL: &SASLConfig{Mechanism: "PLAIN", Username: "alice", Password: "env:ELECTRA_TEST_PLAIN"}},
			[]string{"tls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := tc.sec.Check(ctx, addrs)
			if err == nil {
				t.Fatal("Check succeeded, want an error")
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, wrong) || strings.Contains(msg, "s3cret") {
				t.Errorf("error leaks the password: %q", msg)
			}
			if strings.TrimSpace(strings.TrimPrefix(msg, "broker "+addrs[0]+":")) == "unexpected EOF" {
				t.Errorf("error is a bare EOF: %q", msg)
			}
		})
	}
}

func TestSecretRef(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	if err := os.WriteFile(f, []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ELECTRA_TEST_SECRET", "from-env")
	t.Setenv("ELECTRA_TEST_EMPTY", "")
	for _, tc := range []struct {
		ref     SecretRef
		want    string
		wantErr string
	}{
		{"env:ELECTRA_TEST_SECRET", "from-env", ""},
		{SecretRef("file:" + f), "from-file", ""},
		{"env:ELECTRA_TEST_UNSET_XYZ", "", "is not set"},
		{"env:ELECTRA_TEST_EMPTY", "", "is empty"},
		{SecretRef("file:" + empty), "", "is empty"},
		{SecretRef("file:" + filepath.Join(dir, "missing")), "", "no such file"},
		{"hunter2", "", "[redacted]"},
		{"vault:kafka/pw", "", "unknown source"},
		{"env:", "", "want env:NAME"},
	} {
		got, err := tc.ref.Resolve()
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.ref, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one containing %q", tc.ref, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error leaks the literal: %v", tc.ref, err)
		}
	}
}

// TestSecurityNeverLogged: logging a Security (as a pipeline does at start)
// shows references, and a literal password mistakenly typed into the
// password field is redacted.
func TestSecurityNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	sec := Security{SASL: &SASLConfig{Mechanism: "PLAIN", Username: "alice", Password: "hunter2"}}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("security", "sasl_password", sec.SASL.Password, "security", sec, "sasl", *sec.SASL)
	}
	fmt.Fprintf(&buf, "%v %+v %s %q", *sec.SASL, *sec.SASL, sec.SASL.Password, sec.SASL.Password)
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("log shows the literal password: %s", buf.String())
	}
	err := sec.Validate()
	if err == nil || !strings.Contains(err.Error(), "sasl.password") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Validate = %v; want an error about sasl.password without its value", err)
	}
}

func TestSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		sec  Security
		want string
	}{
		{Security{}, ""},
		{Security{TLS: &TLSConfig{Cert: "c.pem"}}, "tls.cert and tls.key"},
		{Security{SASL: &SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: "env:X"}}, "sasl.mechanism"},
		{Security{SASL: &SASLConfig{Mechanism: "PLAIN", Password: "env:X"}}, "sasl.username"},
		{Security{SASL: &SASLConfig{Mechanism: "scram-sha-512", Username: "u", Password: "file:/run/secrets/kafka"}}, ""},
	} {
		err := tc.sec.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.sec, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.sec, err, tc.want)
		}
	}
}
