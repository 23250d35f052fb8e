package agentruntime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// testErrors checks the server's error details as fields of *agentruntime.Error.
func testErrors(t *testing.T, srv *testServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, protocol := range []agentruntime.Protocol{agentruntime.ProtocolGRPC, agentruntime.ProtocolConnect} {
		c := agentruntime.NewClient(srv.URL, apiKey, agentruntime.WithProtocol(protocol))

		_, err := c.GetSession(ctx, unknownSessionID)
		var apiErr *agentruntime.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("%v: GetSession(unknown): %T %v, want *agentruntime.Error", protocol, err, err)
		}
		if apiErr.Code != connect.CodeNotFound || apiErr.CodeName() != "NOT_FOUND" || apiErr.Reason != "SESSION_NOT_FOUND" ||
			apiErr.Field != "session_id" || apiErr.Metadata["id"] != unknownSessionID || apiErr.Domain != "agentruntime.v1" {
			t.Errorf("%v: NOT_FOUND decoded as %+v", protocol, apiErr)
		}
		if !agentruntime.IsNotFound(err) || agentruntime.IsInvalidArgument(err) || agentruntime.ReasonOf(err) != "SESSION_NOT_FOUND" {
			t.Errorf("%v: the helpers disagree with %v", protocol, err)
		}
		// It still unwraps to the connect error, for code written against connect-go.
		var ce *connect.Error
		if !errors.As(err, &ce) || connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%v: %v does not unwrap to a *connect.Error", protocol, err)
		}

		// The generated clients on Client return the same type.
		_, err = c.Profiles.CreateAgentProfile(ctx, connect.NewRequest(&v1.CreateAgentProfileRequest{
			Profile: &v1.AgentProfile{Name: "", Tools: []string{"Read"}},
		}))
		if !errors.As(err, &apiErr) || apiErr.Code != connect.CodeInvalidArgument || apiErr.Reason != "INVALID_FIELD" ||
			apiErr.Field != "profile.name" || len(apiErr.Violations) != 1 || apiErr.Violations[0].Description == "" {
			t.Errorf("%v: INVALID_ARGUMENT decoded as %+v (%v)", protocol, apiErr, err)
		}

		bad := agentruntime.NewClient(srv.URL, "not-a-key-0123456789", agentruntime.WithProtocol(protocol))
		if _, err := bad.GetSession(ctx, unknownSessionID); !agentruntime.IsUnauthenticated(err) || agentruntime.ReasonOf(err) == "" {
			t.Errorf("%v: a wrong key: %v, want UNAUTHENTICATED with a reason", protocol, err)
		}
	}

	// A profile name nobody has: the SDK's own NOT_FOUND, the same type.
	c := agentruntime.NewClient(srv.URL, apiKey)
	_, err := c.FindProfile(ctx, "no such profile")
	var apiErr *agentruntime.Error
	if !errors.As(err, &apiErr) || apiErr.Code != connect.CodeNotFound || apiErr.Field != "name" {
		t.Errorf("FindProfile(missing): %v", err)
	}

	// Nothing listens: a network error is an *Error too (UNAVAILABLE), after the retries of a
	// read-only call.
	dead := agentruntime.NewClient("http://127.0.0.1:1", apiKey, agentruntime.WithReconnect(2, time.Millisecond))
	_, err = dead.GetSession(ctx, unknownSessionID)
	if !errors.As(err, &apiErr) || !agentruntime.IsUnavailable(err) || apiErr.Reason != "" {
		t.Errorf("no server: %T %v, want an *Error with code UNAVAILABLE", err, err)
	}
}
