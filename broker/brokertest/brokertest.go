// Package brokertest gives tests a secured Kafka-protocol broker: a
// throw-away certificate authority written as PEM files, and the kfake
// options for a listener that requires mutual TLS and SASL. The broker
// package's own security tests and the CLI's end-to-end tests share it, so
// both exercise the same setup an operator would have. It also writes
// transactions (ProduceCommitted), whose markers consumers must pass over.
package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// PKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files the way an operator gets them.
type PKI struct {
	Dir    string
	CAFile string // PEM of the CA that signed the server and client certificates
	CAPool *x509.CertPool
	// ServerCert is the broker's certificate, valid for 127.0.0.1.
	ServerCert tls.Certificate
	// ClientCert and ClientKey are PEM files for mutual TLS.
	ClientCert, ClientKey string
	// OtherCA is a CA that signed nothing here: the wrong --tls-ca.
	OtherCA string
}

// NewPKI writes a fresh PKI into a test temporary directory. Certificates
// are valid for an hour around now.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{Dir: dir}
	caKey, caDER := selfSignedCA(t, "electra test CA")
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.CAPool = x509.NewCertPool()
	p.CAPool.AddCert(caCert)

	srvKey, srvDER := leaf(t, caCert, caKey, "broker", []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	p.ServerCert = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliKey, cliDER := leaf(t, caCert, caKey, "trainer", nil, x509.ExtKeyUsageClientAuth)
	p.ClientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	kb, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ClientKey = writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", kb)

	_, otherDER := selfSignedCA(t, "unrelated CA")
	p.OtherCA = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER)
	return p
}

// User is a SASL account on the secured broker.
type User struct{ Mechanism, Name, Password string }

// Users has one superuser per mechanism; the password is
// "s3cret-<mechanism>", so a test can check that it never leaks.
var Users = []User{
	{"PLAIN", "alice", "s3cret-PLAIN"},
	{"SCRAM-SHA-256", "bob", "s3cret-SCRAM-SHA-256"},
	{"SCRAM-SHA-512", "carol", "s3cret-SCRAM-SHA-512"},
}

// SecureOpts are kfake options for a listener that requires a client
// certificate signed by p's CA and SASL authentication as one of Users.
func (p *PKI) SecureOpts() []kfake.Opt {
	opts := []kfake.Opt{
		kfake.TLS(&tls.Config{
			Certificates: []tls.Certificate{p.ServerCert},
			ClientCAs:    p.CAPool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		}),
		kfake.EnableSASL(),
	}
	for _, u := range Users {
		opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
	}
	return opts
}

func selfSignedCA(t testing.TB, cn string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	return certificate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}, nil, nil)
}

func leaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, ips []net.IP, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	return certificate(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: ips,
	}, ca, caKey)
}

// certificate gives tmpl a fresh P-256 key, a serial number and a validity
// of an hour around now, and signs it with parentKey as parent, or with its
// own key when parent is nil (a self-signed CA).
func certificate(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
