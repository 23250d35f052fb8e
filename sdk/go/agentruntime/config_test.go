package agentruntime_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// TestVersion checks that the SDK's version is the server's (package.json).
func TestVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Version == "" || agentruntime.Version != pkg.Version {
		t.Fatalf("agentruntime.Version = %q, package.json says %q", agentruntime.Version, pkg.Version)
	}
}

// TestNewChecksTheURL needs no server: a base URL that is not http(s) is an error from New.
func TestNewChecksTheURL(t *testing.T) {
	for _, u := range []string{"localhost:8080", "ftp://host", "http://"} {
		if _, err := agentruntime.New(agentruntime.WithBaseURL(u)); err == nil {
			t.Errorf("New(WithBaseURL(%q)) succeeded", u)
		}
	}
	t.Setenv(agentruntime.EnvURL, "")
	c, err := agentruntime.New()
	if err != nil || c.BaseURL() != agentruntime.DefaultURL {
		t.Fatalf("New() without a URL: %v, %v; want %s", c, err, agentruntime.DefaultURL)
	}
	t.Setenv(agentruntime.EnvProtocol, "carrier-pigeon")
	if _, err := agentruntime.New(); err == nil {
		t.Error("New() with an unknown AGENT_RUNTIME_PROTOCOL succeeded")
	}
	if _, err := agentruntime.New(agentruntime.WithProtocol(agentruntime.ProtocolConnect)); err != nil {
		t.Errorf("WithProtocol does not win over AGENT_RUNTIME_PROTOCOL: %v", err)
	}
	t.Setenv(agentruntime.EnvProtocol, "")
	t.Setenv(agentruntime.EnvCAFile, filepath.Join(t.TempDir(), "missing.pem"))
	if _, err := agentruntime.New(); err == nil {
		t.Error("New() with a missing CA file succeeded")
	}
}

// testEnvironment configures clients from the environment and options, over TLS too.
func testEnvironment(t *testing.T, srv *testServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// URL and key from the environment; options win over it.
	t.Setenv(agentruntime.EnvURL, srv.URL)
	t.Setenv(agentruntime.EnvAPIKey, apiKey)
	c, err := agentruntime.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindProfile(ctx, "demo"); err != nil {
		t.Fatalf("a client from the environment: %v", err)
	}
	c, err = agentruntime.New(agentruntime.WithAPIKey("wrong-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindProfile(ctx, "demo"); !agentruntime.IsUnauthenticated(err) {
		t.Fatalf("WithAPIKey over the environment: %v, want UNAUTHENTICATED", err)
	}

	// TLS: a proxy terminating TLS with a certificate of a private CA, trusted through
	// AGENT_RUNTIME_CA_FILE (HTTP/2 by ALPN) and through WithTLSConfig.
	cert, caPEM := selfSigned(t)
	proxy := startProxy(t, srv.Addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(agentruntime.EnvURL, proxy.URL)

	c, err = agentruntime.New() // no CA: the certificate is not trusted
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindProfile(ctx, "demo"); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	t.Setenv(agentruntime.EnvCAFile, caFile)
	for _, protocol := range []string{"grpc", "connect+json", "grpc-web"} {
		t.Setenv(agentruntime.EnvProtocol, protocol)
		c, err = agentruntime.New()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.FindProfile(ctx, "demo"); err != nil {
			t.Fatalf("%s over TLS with AGENT_RUNTIME_CA_FILE: %v", protocol, err)
		}
	}
	t.Setenv(agentruntime.EnvProtocol, "")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c, err = agentruntime.New(agentruntime.WithTLSConfig(&tls.Config{RootCAs: pool}),
		agentruntime.WithProtocol(agentruntime.ProtocolConnect))
	if err != nil {
		t.Fatal(err)
	}
	sessionID := newSession(ctx, t, c, "demo")
	turn, err := c.RunTurn(ctx, sessionID, "over tls")
	if err != nil {
		t.Fatal(err)
	}
	if result, err := turn.Wait(); err != nil || result.GetOutcome().String() != "TURN_OUTCOME_COMPLETED" {
		t.Fatalf("a turn over TLS: %v, %v", result, err)
	}
	if _, err := agentruntime.New(agentruntime.WithTLSConfig(&tls.Config{}), agentruntime.WithHTTPClient(http.DefaultClient)); err == nil {
		t.Error("WithTLSConfig with WithHTTPClient: no error")
	}
}

// selfSigned returns a certificate for 127.0.0.1 and its PEM, which is its own CA.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "agent-runtime test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
