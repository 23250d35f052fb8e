package agentruntime_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// decoded is what stock grpc-go finds in an error's status details.
type decoded struct {
	code       codes.Code
	info       *errdetails.ErrorInfo
	badRequest *errdetails.BadRequest
	detail     *v1.ErrorDetail
}

func decode(t *testing.T, err error) decoded {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want an error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a gRPC status: %v", err)
	}
	d := decoded{code: st.Code()}
	for _, detail := range st.Details() {
		switch x := detail.(type) {
		case *errdetails.ErrorInfo:
			d.info = x
		case *errdetails.BadRequest:
			d.badRequest = x
		case *v1.ErrorDetail:
			d.detail = x
		case error:
			t.Errorf("a detail does not decode: %v", x)
		}
	}
	if d.info == nil {
		t.Fatalf("%v: no google.rpc.ErrorInfo in %v", err, st.Details())
	}
	if d.info.GetDomain() != "agentruntime.v1" {
		t.Errorf("ErrorInfo.domain = %q, want agentruntime.v1", d.info.GetDomain())
	}
	return d
}

// TestErrorDetails checks that errors decode with the stock libraries: status.FromError(err).Details()
// gives google.rpc.ErrorInfo, google.rpc.BadRequest for a bad field, and agentruntime.v1.ErrorDetail.
func TestErrorDetails(t *testing.T) {
	srv := startServer(t, map[string]string{"AGENT_RUNTIME_API_KEYS": apiKey + "=acme"})
	conn, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerCredentials(apiKey)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	profiles := v1.NewAgentProfileServiceClient(conn)
	sessions := v1.NewSessionServiceClient(conn)

	t.Run("invalid argument: ErrorInfo and BadRequest name the field", func(t *testing.T) {
		cases := []struct {
			call  func() error
			field string
		}{
			{func() error {
				_, err := sessions.GetSession(ctx, &v1.GetSessionRequest{SessionId: "bad"})
				return err
			}, "session_id"},
			{func() error {
				_, err := profiles.CreateAgentProfile(ctx, &v1.CreateAgentProfileRequest{
					Profile: &v1.AgentProfile{Name: "", Tools: []string{"Read"}},
				})
				return err
			}, "profile.name"},
		}
		for _, c := range cases {
			d := decode(t, c.call())
			if d.code != codes.InvalidArgument {
				t.Errorf("code %v, want InvalidArgument", d.code)
			}
			if d.info.GetReason() != "INVALID_FIELD" {
				t.Errorf("ErrorInfo.reason = %q, want INVALID_FIELD", d.info.GetReason())
			}
			if got := d.info.GetMetadata()["field"]; got != c.field {
				t.Errorf("ErrorInfo.metadata[field] = %q, want %q", got, c.field)
			}
			if d.badRequest == nil || len(d.badRequest.GetFieldViolations()) != 1 {
				t.Fatalf("BadRequest = %v, want one field violation", d.badRequest)
			}
			v := d.badRequest.GetFieldViolations()[0]
			if v.GetField() != c.field || v.GetDescription() == "" {
				t.Errorf("field violation %v, want field %q with a description", v, c.field)
			}
			if d.detail.GetField() != c.field || d.detail.GetReason() != "INVALID_FIELD" {
				t.Errorf("ErrorDetail = %v, want field %q", d.detail, c.field)
			}
		}
	})

	t.Run("not found: the field that held the id", func(t *testing.T) {
		_, err := sessions.GetSession(ctx, &v1.GetSessionRequest{SessionId: unknownSessionID})
		d := decode(t, err)
		if d.code != codes.NotFound || d.info.GetReason() != "SESSION_NOT_FOUND" {
			t.Errorf("got %v %q, want NotFound SESSION_NOT_FOUND", d.code, d.info.GetReason())
		}
		md := d.info.GetMetadata()
		if md["field"] != "session_id" || md["id"] != unknownSessionID {
			t.Errorf("ErrorInfo.metadata = %v, want field session_id and the id", md)
		}
		if d.detail.GetField() != "session_id" {
			t.Errorf("ErrorDetail.field = %q, want session_id", d.detail.GetField())
		}
		if d.badRequest != nil {
			t.Errorf("a NOT_FOUND carries BadRequest %v", d.badRequest)
		}

		// The id inside a message field: the path to it.
		_, err = sessions.UpdateSession(ctx, &v1.UpdateSessionRequest{
			Session:    &v1.Session{Id: unknownSessionID, Name: "renamed"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
		})
		d = decode(t, err)
		if d.code != codes.NotFound || d.info.GetMetadata()["field"] != "session.id" {
			t.Errorf("got %v %v, want NotFound naming session.id", d.code, d.info.GetMetadata())
		}
	})
}
