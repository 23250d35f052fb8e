// Package agentruntime is a small Go client for the Agent Runtime API (package agentruntime.v1).
//
// It wraps the generated connect-go clients of the four services, adds the API key to every
// call, and speaks gRPC over cleartext HTTP/2 (h2c) by default. The Connect and gRPC-web
// protocols are one option away:
//
//	client := agentruntime.NewClient("http://127.0.0.1:8080", apiKey)
//	res, err := client.Sessions.GetSession(ctx, connect.NewRequest(&agentruntimev1.GetSessionRequest{
//		SessionId: id,
//	}))
package agentruntime

import (
	"context"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1/agentruntimev1connect"
)

// Protocol is the wire protocol a Client speaks. The server answers all of them on one port.
type Protocol int

const (
	// ProtocolGRPC is gRPC over HTTP/2 (the default).
	ProtocolGRPC Protocol = iota
	// ProtocolConnect is the Connect protocol with binary Protobuf payloads.
	ProtocolConnect
	// ProtocolConnectJSON is the Connect protocol with JSON payloads.
	ProtocolConnectJSON
	// ProtocolGRPCWeb is gRPC-web.
	ProtocolGRPCWeb
)

// String returns the protocol's name, for test and log output.
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolConnect:
		return "connect"
	case ProtocolConnectJSON:
		return "connect+json"
	case ProtocolGRPCWeb:
		return "grpc-web"
	default:
		return "unknown"
	}
}

// Client holds one client for each service of the API. All of them share the HTTP client, the
// protocol and the API key given to NewClient.
type Client struct {
	Profiles  agentruntimev1connect.AgentProfileServiceClient
	Sessions  agentruntimev1connect.SessionServiceClient
	Workspace agentruntimev1connect.WorkspaceServiceClient
	Secrets   agentruntimev1connect.SecretServiceClient
}

type config struct {
	protocol    Protocol
	httpClient  connect.HTTPClient
	connectOpts []connect.ClientOption
}

// Option configures NewClient.
type Option func(*config)

// WithProtocol chooses the wire protocol; the default is ProtocolGRPC.
func WithProtocol(p Protocol) Option {
	return func(c *config) { c.protocol = p }
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

// NewClient returns clients for the services at baseURL (for example
// "http://127.0.0.1:8080"). apiKey is sent as `Authorization: Bearer <apiKey>` on every call;
// an empty key sends no header (for a server started without API keys).
func NewClient(baseURL, apiKey string, opts ...Option) *Client {
	cfg := config{protocol: ProtocolGRPC}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.httpClient == nil {
		cfg.httpClient = NewHTTP2Client()
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
	if apiKey != "" {
		connectOpts = append(connectOpts, connect.WithInterceptors(BearerAuth(apiKey)))
	}
	connectOpts = append(connectOpts, cfg.connectOpts...)
	baseURL = strings.TrimRight(baseURL, "/")
	return &Client{
		Profiles:  agentruntimev1connect.NewAgentProfileServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Sessions:  agentruntimev1connect.NewSessionServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Workspace: agentruntimev1connect.NewWorkspaceServiceClient(cfg.httpClient, baseURL, connectOpts...),
		Secrets:   agentruntimev1connect.NewSecretServiceClient(cfg.httpClient, baseURL, connectOpts...),
	}
}

// NewHTTP2Client returns an HTTP client that speaks HTTP/2 with prior knowledge (h2c) to
// http:// URLs and HTTP/2 over TLS to https:// URLs. It has no overall timeout, so server
// streams can stay open: bound calls with a context deadline instead.
func NewHTTP2Client() *http.Client {
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Protocols = &protocols
	return &http.Client{Transport: transport}
}

// BearerAuth is a connect-go interceptor that sends `Authorization: Bearer <apiKey>` on every
// unary and streaming call.
func BearerAuth(apiKey string) connect.Interceptor {
	return bearerAuth{value: "Bearer " + apiKey}
}

type bearerAuth struct{ value string }

func (b bearerAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			req.Header().Set("Authorization", b.value)
		}
		return next(ctx, req)
	}
}

func (b bearerAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", b.value)
		return conn
	}
}

func (b bearerAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
