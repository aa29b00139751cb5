package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/broker/brokertest"
	"github.com/electra-go/electra/transform/dataset"
)

// TestKafkaFlagsSecurity: the TLS/SASL flags build the same broker.Security
// a pipeline file's block does, win over the file field by field, and
// refuse what cannot work, by flag name and without echoing a password.
func TestKafkaFlagsSecurity(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(cwd, p) }
	fromFile := broker.Security{
		TLS:  &broker.TLSConfig{CA: "/etc/pipeline/ca.pem"},
		SASL: &broker.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "electra", Password: "env:KAFKA_PW"},
	}
	for _, tc := range []struct {
		name    string
		args    []string
		base    broker.Security
		want    broker.Security
		wantErr []string
	}{
		{name: "no flags keep the file's block", base: fromFile, want: fromFile},
		{name: "no flags, no file: plaintext"},
		{name: "--tls alone: system roots", args: []string{"--tls"},
			want: broker.Security{TLS: &broker.TLSConfig{}}},
		{name: "a CA implies TLS, relative paths become absolute", args: []string{"--tls-ca", "certs/ca.pem"},
			want: broker.Security{TLS: &broker.TLSConfig{CA: abs("certs/ca.pem")}}},
		{name: "mutual TLS and SCRAM", args: []string{"--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-server-name", "kafka.internal",
			"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "bob", "--sasl-password", "file:/run/secrets/kafka"},
			want: broker.Security{TLS: &broker.TLSConfig{Cert: "/c.pem", Key: "/k.pem", ServerName: "kafka.internal"},
				SASL: &broker.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "bob", Password: "file:/run/secrets/kafka"}}},
		{name: "flags win over the file field by field", base: fromFile,
			args: []string{"--tls-insecure-skip-verify", "--sasl-user", "other", "--sasl-password", "env:OTHER_PW"},
			want: broker.Security{TLS: &broker.TLSConfig{CA: "/etc/pipeline/ca.pem", InsecureSkipVerify: true},
				SASL: &broker.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "other", Password: "env:OTHER_PW"}}},
		{name: "--tls=false turns the file's TLS off", base: fromFile, args: []string{"--tls=false"},
			want: broker.Security{SASL: fromFile.SASL}},
		{name: "--tls=false with a CA", args: []string{"--tls=false", "--tls-ca", "/ca.pem"}, wantErr: []string{"--tls=false"}},
		{name: "cert without key", args: []string{"--tls-cert", "/c.pem"}, wantErr: []string{"--tls-cert and --tls-key"}},
		{name: "literal password", args: []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "alice", "--sasl-password", "hunter2"},
			wantErr: []string{"--sasl-password", "env:VAR or file:PATH"}},
		{name: "user without mechanism and password", args: []string{"--sasl-user", "alice"},
			wantErr: []string{"--sasl-mechanism: required", "--sasl-password: required"}},
		{name: "unknown mechanism", args: []string{"--sasl-mechanism", "GSSAPI", "--sasl-user", "u", "--sasl-password", "env:X"},
			wantErr: []string{"GSSAPI", "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("test", "", "")
			k := addKafkaFlags(fs, "")
			if err := parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := k.security(tc.base)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("got %+v, want an error naming %q", got, tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the literal password: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalSecurity(got, tc.want) {
				t.Errorf("got TLS %+v SASL %+v, want TLS %+v SASL %+v", got.TLS, got.SASL, tc.want.TLS, tc.want.SASL)
			}
		})
	}
	// The file's block is a value the caller keeps: merging must not write
	// into it.
	if fromFile.TLS.InsecureSkipVerify || fromFile.SASL.Username != "electra" {
		t.Errorf("merging modified the pipeline's block: %+v %+v", fromFile.TLS, fromFile.SASL)
	}
}

func equalSecurity(a, b broker.Security) bool {
	if (a.TLS == nil) != (b.TLS == nil) || (a.SASL == nil) != (b.SASL == nil) {
		return false
	}
	return (a.TLS == nil || *a.TLS == *b.TLS) && (a.SASL == nil || *a.SASL == *b.SASL)
}

// TestKafkaFlagsAgainstSecuredBroker runs ingest, transform, export and
// inspect through their command entry points against an embedded broker
// that requires mutual TLS and SASL/SCRAM: each one fails at start without
// the flags (with an error naming the flags to add), and with them the
// documents go through transform into a dataset with their ids intact.
func TestKafkaFlagsAgainstSecuredBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pki := brokertest.NewPKI(t)
	b, err := broker.StartEmbedded(ctx, broker.EmbeddedConfig{InMemory: true, Options: pki.SecureOpts()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addrs()[0]
	user := brokertest.Users[1] // SCRAM-SHA-256
	t.Setenv("ELECTRA_TEST_KAFKA_PW", user.Password)
	tlsFlags := []string{"--tls-ca", pki.CAFile, "--tls-cert", pki.ClientCert, "--tls-key", pki.ClientKey}
	secFlags := append(slices.Clone(tlsFlags), "--sasl-mechanism", user.Mechanism, "--sasl-user", user.Name, "--sasl-password", "env:ELECTRA_TEST_KAFKA_PW")
	const docs, examples, group = "sec.docs", "sec.examples", "sec-transform"
	outDir := filepath.Join(t.TempDir(), "dataset")
	wiki := filepath.Join("..", "..", "ingest", "testdata", "export-0.11.xml")
	commandArgs := map[string][]string{
		"ingest":    {"--format", "wikipedia", "--input", wiki, "--brokers", addr, "--topic", docs, "--progress=false"},
		"transform": {"--brokers", addr, "--in", docs, "--out", examples, "--group", group, "--vocab", testVocab, "--max-seq-len", "32", "--batch-rows", "4", "--workers", "1", "--flush-idle", "200ms"},
		"export":    {"--brokers", addr, "--topic", examples, "--out", outDir},
		"inspect":   {"--brokers", addr, "--topic", examples, "--vocab", testVocab},
	}
	order := []string{"ingest", "transform", "export", "inspect"}

	// Without the flags (or with only half of them) each command stops at
	// its connection check and says what to add.
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{nil, "--tls"},
		{tlsFlags, "--sasl-mechanism"},
	} {
		for _, name := range order {
			var stderr bytes.Buffer
			rc := runCommand(ctx, commands[name], append(slices.Clone(commandArgs[name]), tc.extra...), &stderr)
			t.Logf("%s: %s", name, stderr.String())
			if rc != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("%s with %d security flags: exit %d, stderr %q; want exit 1 naming %s", name, len(tc.extra), rc, stderr.String(), tc.want)
			}
		}
	}

	run := func(name string) string {
		t.Helper()
		var stderr bytes.Buffer
		if rc := runCommand(ctx, commands[name], append(slices.Clone(commandArgs[name]), secFlags...), &stderr); rc != 0 {
			t.Fatalf("%s: exit %d: %s", name, rc, stderr.String())
		}
		return stderr.String()
	}
	logs := run("ingest")

	// transform is a consumer-group member that runs until stopped: stop it
	// once its offsets cover both documents.
	tctx, stopTransform := context.WithCancel(ctx)
	transformDone := make(chan error, 1)
	go func() {
		transformDone <- commands["transform"].run(tctx, append(slices.Clone(commandArgs["transform"]), secFlags...))
	}()
	sec := broker.Security{
		TLS:  &broker.TLSConfig{CA: pki.CAFile, Cert: pki.ClientCert, Key: pki.ClientKey},
		SASL: &broker.SASLConfig{Mechanism: user.Mechanism, Username: user.Name, Password: "env:ELECTRA_TEST_KAFKA_PW"},
	}
	cl, err := broker.Config{Brokers: []string{addr}, Security: sec}.Client()
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{docs: {0}}})
		if err == nil && len(resp.Topics[docs]) == 1 && resp.Topics[docs][0].CommittedOffset == 2 {
			break
		}
		select {
		case err := <-transformDone:
			t.Fatalf("transform ended before committing both documents: %v", err)
		case <-ctx.Done():
			t.Fatalf("transform never committed both documents (last fetch: %+v, %v)", resp, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stopTransform()
	if err := <-transformDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("transform: %v, want it to stop on cancel", err)
	}

	logs += run("export")
	m, err := dataset.ReadManifest(outDir)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for bt, err := range dataset.Batches(outDir) {
		if err != nil {
			t.Fatal(err)
		}
		for i := range bt.Rows {
			ids[bt.Example(i).DocID]++
		}
	}
	if m.Rows == 0 || len(ids) != 2 || ids["wikipedia:testwiki:1"] == 0 || ids["wikipedia:testwiki:4"] == 0 {
		t.Errorf("exported %d rows from documents %v; want examples of wikipedia:testwiki:1 and :4", m.Rows, ids)
	}
	logs += run("inspect")
	if strings.Contains(logs, user.Password) {
		t.Errorf("a command printed the password:\n%s", logs)
	}
}

// TestKafkaFlagsWithoutKafka: TLS/SASL flags where nothing talks to Kafka
// are a usage error, not silently ignored.
func TestKafkaFlagsWithoutKafka(t *testing.T) {
	dir := t.TempDir()
	embedded := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(embedded, []byte(strings.Replace(flagsPipeline,
		"  brokers: [k1:9093, k2:9093]\n  security:\n    sasl: {mechanism: SCRAM-SHA-512, username: electra, password: env:KAFKA_PW}\n    tls: {ca: certs/ca.pem}\n",
		"  embedded: {}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"corpus/a.txt", "giga/x.gz", "vocab.txt"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jsonl := filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(jsonl, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Each case also runs without its security flags: that must not be a
	// usage error, so the exit 2 above is the flags' doing. (`run` without
	// them would start the pipeline; its message names the embedded broker.)
	for _, tc := range []struct {
		args, sec []string
		control   bool
	}{
		{[]string{"ingest", "--format", "gigaword", "--sink", "jsonl:" + filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "giga/x.gz")}, []string{"--tls"}, true},
		{[]string{"transform", "--from", "jsonl:" + jsonl, "--sink", "dataset:" + filepath.Join(dir, "ds"), "--vocab", testVocab}, []string{"--tls-ca", "ca.pem"}, true},
		{[]string{"inspect", dir, "--vocab", testVocab}, []string{"--sasl-user", "alice"}, true},
		{[]string{"train", "--config", "tiny", "--data", dir, "--out", filepath.Join(dir, "run")}, []string{"--tls"}, true},
		{[]string{"run", embedded}, []string{"--tls"}, false},
	} {
		var stderr bytes.Buffer
		if rc := runCommand(context.Background(), commands[tc.args[0]], append(slices.Clone(tc.sec), tc.args[1:]...), &stderr); rc != 2 {
			t.Errorf("%v %v: exit %d (%s), want 2 (usage)", tc.args, tc.sec, rc, stderr.String())
		}
		if !tc.control {
			continue
		}
		if rc := runCommand(context.Background(), commands[tc.args[0]], tc.args[1:], &stderr); rc == 2 {
			t.Errorf("%v without %v: exit 2 as well; the test does not isolate the flags", tc.args, tc.sec)
		}
	}
}
