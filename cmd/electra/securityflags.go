package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/electra-go/electra/broker"
	"github.com/electra-go/electra/pipelines"
)

// kafkaFlags are the connection flags every subcommand that talks to Kafka
// takes: --brokers and the TLS/SASL settings of broker.Security. They are
// the command-line form of a pipeline file's broker block, and win over it
// flag by flag.
type kafkaFlags struct {
	fs      *flag.FlagSet
	brokers *string

	tls, insecure             *bool
	ca, cert, key, serverName *string
	mechanism, user, password *string
}

// Flag names, in one place for the help text, the merge and the errors.
const (
	flagTLS        = "tls"
	flagTLSCA      = "tls-ca"
	flagTLSCert    = "tls-cert"
	flagTLSKey     = "tls-key"
	flagTLSName    = "tls-server-name"
	flagTLSSkip    = "tls-insecure-skip-verify"
	flagSASLMech   = "sasl-mechanism"
	flagSASLUser   = "sasl-user"
	flagSASLPass   = "sasl-password"
	securityFlagsN = "--tls*/--sasl-*"
)

// tlsFileFlags and tlsOtherFlags each imply --tls; saslFlags make a SASL
// block.
var (
	tlsFileFlags  = []string{flagTLSCA, flagTLSCert, flagTLSKey}
	tlsOtherFlags = []string{flagTLSName, flagTLSSkip}
	saslFlags     = []string{flagSASLMech, flagSASLUser, flagSASLPass}
	securityFlags = slices.Concat([]string{flagTLS}, tlsFileFlags, tlsOtherFlags, saslFlags)
)

// addKafkaFlags registers --brokers (with the command's own help text) and
// the TLS/SASL flags on fs.
func addKafkaFlags(fs *flag.FlagSet, brokersHelp string) *kafkaFlags {
	return &kafkaFlags{
		fs:         fs,
		brokers:    fs.String("brokers", "", brokersHelp),
		tls:        fs.Bool(flagTLS, false, "Kafka: connect with TLS, verifying the brokers against the system roots (implied by any --tls-* flag; --tls=false turns off the pipeline file's TLS)"),
		ca:         fs.String(flagTLSCA, "", "Kafka TLS: PEM file of the CA that signed the brokers' certificates (instead of the system roots)"),
		cert:       fs.String(flagTLSCert, "", "Kafka TLS: PEM client certificate for mutual TLS (with --tls-key)"),
		key:        fs.String(flagTLSKey, "", "Kafka TLS: PEM private key of --tls-cert"),
		serverName: fs.String(flagTLSName, "", "Kafka TLS: name to check the brokers' certificates against (default: the host of each address)"),
		insecure:   fs.Bool(flagTLSSkip, false, "Kafka TLS: do not verify the brokers' certificates (test clusters only: it defeats TLS)"),
		mechanism:  fs.String(flagSASLMech, "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
		user:       fs.String(flagSASLUser, "", "Kafka SASL user name"),
		password:   fs.String(flagSASLPass, "", "Kafka SASL password source: env:VAR or file:PATH (a literal password is refused: command lines are visible to other users)"),
	}
}

// given reports the TLS/SASL flags set on the command line.
func (k *kafkaFlags) given() map[string]bool {
	g := map[string]bool{}
	k.fs.Visit(func(f *flag.Flag) {
		if slices.Contains(securityFlags, f.Name) {
			g[f.Name] = true
		}
	})
	return g
}

// anySecurity reports whether any TLS/SASL flag was given.
func (k *kafkaFlags) anySecurity() bool { return len(k.given()) > 0 }

// security lays the TLS/SASL flags given on the command line over base
// (a pipeline file's block, or the zero value). base is not modified.
// Relative paths become absolute, so the result means the same wherever
// it is used (a pipeline resolves its own paths against its file).
func (k *kafkaFlags) security(base broker.Security) (broker.Security, error) {
	g := k.given()
	sec := broker.Security{}
	if base.TLS != nil {
		t := *base.TLS
		sec.TLS = &t
	}
	if base.SASL != nil {
		a := *base.SASL
		sec.SASL = &a
	}

	var errs []error
	anyTLS := slices.ContainsFunc(slices.Concat(tlsFileFlags, tlsOtherFlags), func(n string) bool { return g[n] })
	switch {
	case g[flagTLS] && !*k.tls && anyTLS:
		errs = append(errs, fmt.Errorf("--%s=false turns TLS off, but other --tls-* flags are given", flagTLS))
	case g[flagTLS] && !*k.tls:
		sec.TLS = nil
	case g[flagTLS] || anyTLS:
		if sec.TLS == nil {
			sec.TLS = &broker.TLSConfig{}
		}
		t := sec.TLS
		for _, f := range []struct {
			name string
			val  *string
			dst  *string
		}{{flagTLSCA, k.ca, &t.CA}, {flagTLSCert, k.cert, &t.Cert}, {flagTLSKey, k.key, &t.Key}} {
			if !g[f.name] {
				continue
			}
			p, err := filepath.Abs(*f.val)
			if err != nil || *f.val == "" {
				errs = append(errs, fmt.Errorf("--%s %q: want a PEM file path", f.name, *f.val))
				continue
			}
			*f.dst = p
		}
		if g[flagTLSName] {
			t.ServerName = *k.serverName
		}
		if g[flagTLSSkip] {
			t.InsecureSkipVerify = *k.insecure
		}
		if (t.Cert == "") != (t.Key == "") {
			errs = append(errs, fmt.Errorf("--%s and --%s: give both (mutual TLS) or neither", flagTLSCert, flagTLSKey))
		}
	}

	if slices.ContainsFunc(saslFlags, func(n string) bool { return g[n] }) {
		if sec.SASL == nil {
			sec.SASL = &broker.SASLConfig{}
		}
		a := sec.SASL
		if g[flagSASLMech] {
			a.Mechanism = *k.mechanism
		}
		if g[flagSASLUser] {
			a.Username = *k.user
		}
		if g[flagSASLPass] {
			// The value is shown only when it is a reference: a literal
			// typed here is the password itself.
			kind, name, _ := strings.Cut(*k.password, ":")
			if (kind != "env" && kind != "file") || name == "" {
				errs = append(errs, fmt.Errorf("--%s: want env:VAR or file:PATH (the value given is not shown: it may be the password; put the password in an environment variable or a file)", flagSASLPass))
			}
			a.Password = broker.SecretRef(*k.password)
		}
		// What is still missing after the merge, by flag name.
		if a.Mechanism == "" {
			errs = append(errs, fmt.Errorf("--%s: required with --%s/--%s (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", flagSASLMech, flagSASLUser, flagSASLPass))
		}
		if a.Username == "" {
			errs = append(errs, fmt.Errorf("--%s: required with --%s", flagSASLUser, flagSASLMech))
		}
		if a.Password == "" {
			errs = append(errs, fmt.Errorf("--%s: required with --%s (env:VAR or file:PATH)", flagSASLPass, flagSASLMech))
		}
	}
	if len(errs) > 0 {
		return broker.Security{}, errors.Join(errs...)
	}
	// The remaining checks (mechanism names) are the pipeline loader's.
	if err := sec.Validate(); err != nil {
		return broker.Security{}, fmt.Errorf("%s flags: %w", securityFlagsN, err)
	}
	return sec, nil
}

// config builds the broker.Config of a subcommand: --brokers (or the
// pipeline's, already applied to the flag), the pipeline's TLS/SASL with
// the flags laid over it, and a connection check so that a wrong
// certificate or password stops the command at once with the setting to
// fix. With no brokers it returns an empty config; TLS/SASL flags are then
// a usage error, since nothing would use them.
func (k *kafkaFlags) config(ctx context.Context, clientID string, pl *pipelines.Pipeline) (broker.Config, error) {
	bc := broker.Config{Brokers: broker.ParseBrokers(*k.brokers), ClientID: clientID}
	if len(bc.Brokers) == 0 {
		if k.anySecurity() {
			return bc, usageError(k.fs, fmt.Errorf("%s flags apply to Kafka: give --brokers (or --pipeline)", securityFlagsN))
		}
		return bc, nil
	}
	sec, err := k.security(pipelineSecurity(pl))
	if err != nil {
		return bc, usageError(k.fs, err)
	}
	bc.Security = sec
	if err := bc.Validate(); err != nil {
		return bc, usageError(k.fs, err)
	}
	if err := sec.Check(ctx, bc.Brokers); err != nil {
		return bc, err
	}
	return bc, nil
}

// unused is the usage error for TLS/SASL flags given to a mode that does
// not talk to Kafka (a JSON-lines sink, a dataset directory).
func (k *kafkaFlags) unused(mode string) error {
	if !k.anySecurity() {
		return nil
	}
	return usageError(k.fs, fmt.Errorf("%s flags apply to Kafka, not to %s", securityFlagsN, mode))
}
