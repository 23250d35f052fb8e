package agentruntime

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"connectrpc.com/connect"
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

// NewHTTP2Client returns an HTTP client that speaks HTTP/2 with prior knowledge (h2c) to
// http:// URLs and HTTP/2 over TLS to https:// URLs, and checks idle connections with pings.
// It has no overall timeout, so server streams can stay open: bound calls with a context
// deadline instead.
func NewHTTP2Client() *http.Client {
	return newHTTP2Client(nil)
}

func newHTTP2Client(tlsConfig *tls.Config) *http.Client {
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Protocols = &protocols
	// A feed can be quiet for long: ping a connection that has read nothing for 30 seconds, and
	// drop it (the feed then resumes on a new one) when the ping gets no answer in 15.
	transport.HTTP2 = &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second}
	if tlsConfig != nil {
		transport.TLSClientConfig = tlsConfig.Clone()
	}
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
