// Package agentruntime is the Go client for Agent Runtime (API package agentruntime.v1).
//
// New reads the base URL, API key and TLS settings from options or the environment; RunTurn
// sends a message and yields the turn's events until it ends, resuming by sequence after a
// dropped connection; Watch follows a session's feed from any sequence; Conversation folds
// events into whole blocks; every error is an *Error (errors.As) with the server's reason,
// field and metadata:
//
//	client, err := agentruntime.New() // AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
//	turn, err := client.RunTurn(ctx, sessionID, "hello")
//	for event := range turn.Events() { ... }
//	if err := turn.Err(); err != nil { ... }
//	fmt.Println(turn.Conversation().FinalText())
//
// The generated connect-go clients of the four services stay available as Client.Profiles,
// Client.Sessions, Client.Workspace and Client.Secrets, for every call of the API.
package agentruntime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1/agentruntimev1connect"
)

// Version is this SDK's version; it matches the server's (package.json) it was released with.
const Version = "0.1.0"

// Environment variables New reads when no option says otherwise.
const (
	// EnvURL is the server's base URL, for example `https://agents.example.com`.
	EnvURL = "AGENT_RUNTIME_URL"
	// EnvAPIKey is the API key, sent as `Authorization: Bearer <key>`.
	EnvAPIKey = "AGENT_RUNTIME_API_KEY"
	// EnvCAFile is a PEM file of the certificate authorities to trust for an https:// URL (a
	// private CA), instead of the system's.
	EnvCAFile = "AGENT_RUNTIME_CA_FILE"
	// EnvProtocol is the wire protocol: grpc (the default), connect, connect+json or grpc-web.
	EnvProtocol = "AGENT_RUNTIME_PROTOCOL"
)

// DefaultURL is the base URL when neither WithBaseURL nor AGENT_RUNTIME_URL gives one: the
// address `npm start` listens on.
const DefaultURL = "http://localhost:8080"

// Client holds one client for each service of the API, and the SDK's own calls (RunTurn, Watch,
// CreateSession, ...). All of them share the HTTP client, the protocol and the API key.
type Client struct {
	Profiles  agentruntimev1connect.AgentProfileServiceClient
	Sessions  agentruntimev1connect.SessionServiceClient
	Workspace agentruntimev1connect.WorkspaceServiceClient
	Secrets   agentruntimev1connect.SecretServiceClient

	baseURL           string
	reconnectAttempts int
	reconnectBackoff  time.Duration
}

type config struct {
	baseURL, apiKey    string
	baseURLSet, keySet bool
	protocol           Protocol
	protocolSet        bool
	httpClient         connect.HTTPClient
	tlsConfig          *tls.Config
	connectOpts        []connect.ClientOption
	reconnectAttempts  int
	reconnectBackoff   time.Duration
}

// Option configures New and NewClient.
type Option func(*config)

// WithBaseURL sets the server's base URL (`http://127.0.0.1:8080`, `https://host`), instead
// of AGENT_RUNTIME_URL.
func WithBaseURL(baseURL string) Option {
	return func(c *config) { c.baseURL, c.baseURLSet = baseURL, true }
}

// WithAPIKey sets the API key, instead of AGENT_RUNTIME_API_KEY; "" sends no key (a server
// started without API keys).
func WithAPIKey(apiKey string) Option {
	return func(c *config) { c.apiKey, c.keySet = apiKey, true }
}

// WithTLSConfig sets the TLS configuration for an https:// URL (for example RootCAs for a
// private CA, or a client certificate), instead of the system's roots or AGENT_RUNTIME_CA_FILE.
// It applies to the default HTTP client only, not to one given with WithHTTPClient.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) { c.tlsConfig = cfg }
}

// WithProtocol chooses the wire protocol; the default is ProtocolGRPC.
func WithProtocol(p Protocol) Option {
	return func(c *config) { c.protocol, c.protocolSet = p, true }
}

// WithHTTPClient replaces the default HTTP client (HTTP/2, cleartext for http:// URLs). gRPC
// needs HTTP/2; Connect and gRPC-web also work over HTTP/1.1.
func WithHTTPClient(h connect.HTTPClient) Option {
	return func(c *config) { c.httpClient = h }
}

// WithClientOptions adds connect-go client options (interceptors, compression, read limits).
func WithClientOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.connectOpts = append(c.connectOpts, opts...) }
}

// WithReconnect sets how a feed (RunTurn, Watch) reconnects after a dropped connection: up to
// attempts tries in a row without an event in between (default 8), waiting backoff after the
// first and doubling up to 5 seconds (default 100ms). Read-only calls (GetSession, ReadFile,
// ...) retry an unavailable server the same number of times, at most 3.
func WithReconnect(attempts int, backoff time.Duration) Option {
	return func(c *config) { c.reconnectAttempts, c.reconnectBackoff = attempts, backoff }
}

// New returns a client configured by opts and, for what they leave out, the environment:
// AGENT_RUNTIME_URL (default DefaultURL), AGENT_RUNTIME_API_KEY, AGENT_RUNTIME_CA_FILE and
// AGENT_RUNTIME_PROTOCOL.
func New(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if !cfg.baseURLSet {
		cfg.baseURL = os.Getenv(EnvURL)
		if cfg.baseURL == "" {
			cfg.baseURL = DefaultURL
		}
	}
	if !cfg.keySet {
		cfg.apiKey = os.Getenv(EnvAPIKey)
	}
	if name := os.Getenv(EnvProtocol); name != "" && !cfg.protocolSet {
		p, ok := protocolNamed(name)
		if !ok {
			return nil, fmt.Errorf("agentruntime: %s=%q: want grpc, connect, connect+json or grpc-web", EnvProtocol, name)
		}
		cfg.protocol = p
	}
	u, err := url.Parse(cfg.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agentruntime: base URL %q: want http://host:port or https://host", cfg.baseURL)
	}
	if caFile := os.Getenv(EnvCAFile); caFile != "" && cfg.tlsConfig == nil {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("agentruntime: %s: %w", EnvCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("agentruntime: %s: no PEM certificate in %s", EnvCAFile, caFile)
		}
		cfg.tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if cfg.tlsConfig != nil && cfg.httpClient != nil {
		return nil, errors.New("agentruntime: WithTLSConfig and WithHTTPClient together: set TLS on your HTTP client")
	}
	return build(cfg), nil
}

// NewClient returns a client for the server at baseURL (for example "http://127.0.0.1:8080")
// with apiKey sent as `Authorization: Bearer <apiKey>` on every call; an empty key sends no
// header. It reads no environment: New does.
func NewClient(baseURL, apiKey string, opts ...Option) *Client {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	cfg.baseURL, cfg.apiKey = baseURL, apiKey
	return build(cfg)
}

func defaultConfig() config {
	return config{protocol: ProtocolGRPC, reconnectAttempts: 8, reconnectBackoff: 100 * time.Millisecond}
}

func build(cfg config) *Client {
	if cfg.httpClient == nil {
		cfg.httpClient = newHTTP2Client(cfg.tlsConfig)
	}
	if cfg.reconnectAttempts < 1 {
		cfg.reconnectAttempts = 1
	}
	if cfg.reconnectBackoff <= 0 {
		cfg.reconnectBackoff = 100 * time.Millisecond
	}
	var connectOpts []connect.ClientOption
	switch cfg.protocol {
	case ProtocolGRPC:
		connectOpts = append(connectOpts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		connectOpts = append(connectOpts, connect.WithGRPCWeb())
	case ProtocolConnectJSON:
		connectOpts = append(connectOpts, connect.WithProtoJSON())
	case ProtocolConnect:
		// connect-go's default: the Connect protocol with binary Protobuf.
	}
	interceptors := []connect.Interceptor{errorInterceptor{attempts: min(cfg.reconnectAttempts, 3), backoff: cfg.reconnectBackoff}}
	if cfg.apiKey != "" {
		interceptors = append(interceptors, BearerAuth(cfg.apiKey))
	}
	connectOpts = append(connectOpts, connect.WithInterceptors(interceptors...))
	connectOpts = append(connectOpts, cfg.connectOpts...)
	baseURL := strings.TrimRight(cfg.baseURL, "/")
	return &Client{
		Profiles:          agentruntimev1connect.NewAgentProfileServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Sessions:          agentruntimev1connect.NewSessionServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Workspace:         agentruntimev1connect.NewWorkspaceServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Secrets:           agentruntimev1connect.NewSecretServiceClient(cfg.httpClient, baseURL, connectOpts...),
		baseURL:           baseURL,
		reconnectAttempts: cfg.reconnectAttempts,
		reconnectBackoff:  cfg.reconnectBackoff,
	}
}

// BaseURL returns the server's base URL the client calls.
func (c *Client) BaseURL() string { return c.baseURL }

// protocolNamed is the protocol whose String is name (connect-json for connect+json too).
func protocolNamed(name string) (Protocol, bool) {
	for _, p := range []Protocol{ProtocolGRPC, ProtocolConnect, ProtocolConnectJSON, ProtocolGRPCWeb} {
		if strings.EqualFold(name, p.String()) || (p == ProtocolConnectJSON && strings.EqualFold(name, "connect-json")) {
			return p, true
		}
	}
	return 0, false
}
