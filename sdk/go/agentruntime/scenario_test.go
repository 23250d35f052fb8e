package agentruntime_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

const (
	apiKey      = "test-key-acme-0123456789"
	otherAPIKey = "test-key-globex-0123456789"
	// A well-formed session id that no session has.
	unknownSessionID = "ses_00000000000000000000000000"
)

// TestScenario runs the same scenario through every Go client against one real server:
// connect-go with each protocol it speaks (through this SDK), and the grpc-go generated stubs.
func TestScenario(t *testing.T) {
	srv := startServer(t, map[string]string{
		"AGENT_RUNTIME_API_KEYS": apiKey + "=acme," + otherAPIKey + "=globex",
	})

	connectClients := []struct {
		name     string
		protocol agentruntime.Protocol
		http     connect.HTTPClient
	}{
		{"connect-go/grpc/h2c", agentruntime.ProtocolGRPC, nil},
		{"connect-go/connect-proto/h2c", agentruntime.ProtocolConnect, nil},
		{"connect-go/connect-json/http1.1", agentruntime.ProtocolConnectJSON, &http.Client{}},
		{"connect-go/grpc-web/h2c", agentruntime.ProtocolGRPCWeb, nil},
	}
	for _, c := range connectClients {
		t.Run(c.name, func(t *testing.T) {
			opts := []agentruntime.Option{agentruntime.WithProtocol(c.protocol)}
			if c.http != nil {
				opts = append(opts, agentruntime.WithHTTPClient(c.http))
			}
			runScenario(t,
				connectAPI(agentruntime.NewClient(srv.URL, apiKey, opts...)),
				connectAPI(agentruntime.NewClient(srv.URL, "", opts...)),
				connectAPI(agentruntime.NewClient(srv.URL, otherAPIKey, opts...)),
			)
		})
	}

	t.Run("grpc-go", func(t *testing.T) {
		dial := func(key string) *grpc.ClientConn {
			opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
			if key != "" {
				opts = append(opts, grpc.WithPerRPCCredentials(bearerCredentials(key)))
			}
			conn, err := grpc.NewClient(srv.Addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			return conn
		}
		runScenario(t, grpcAPI(dial(apiKey)), grpcAPI(dial("")), grpcAPI(dial(otherAPIKey)))
	})
}

// api is the part of the API the scenario uses, the same for every client.
type api struct {
	createProfile func(context.Context, *v1.CreateAgentProfileRequest) (*v1.CreateAgentProfileResponse, error)
	deleteProfile func(context.Context, *v1.DeleteAgentProfileRequest) (*v1.DeleteAgentProfileResponse, error)
	createSession func(context.Context, *v1.CreateSessionRequest) (*v1.CreateSessionResponse, error)
	getSession    func(context.Context, *v1.GetSessionRequest) (*v1.GetSessionResponse, error)
	listSessions  func(context.Context, *v1.ListSessionsRequest) (*v1.ListSessionsResponse, error)
	deleteSession func(context.Context, *v1.DeleteSessionRequest) (*v1.DeleteSessionResponse, error)
	writeFile     func(context.Context, *v1.WriteFileRequest) (*v1.WriteFileResponse, error)
	readFile      func(context.Context, *v1.ReadFileRequest) (*v1.ReadFileResponse, error)
	listFiles     func(context.Context, *v1.ListFilesRequest) (*v1.ListFilesResponse, error)
	setSecret     func(context.Context, *v1.SetSecretRequest) (*v1.SetSecretResponse, error)
	listSecrets   func(context.Context, *v1.ListSecretsRequest) (*v1.ListSecretsResponse, error)
	deleteSecret  func(context.Context, *v1.DeleteSecretRequest) (*v1.DeleteSecretResponse, error)
	// code returns the RPC status code of an error (connect.Code and grpc codes share numbers).
	code func(error) connect.Code
}

func connectUnary[Req, Res any](
	f func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) func(context.Context, *Req) (*Res, error) {
	return func(ctx context.Context, req *Req) (*Res, error) {
		res, err := f(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
}

func connectAPI(c *agentruntime.Client) api {
	return api{
		createProfile: connectUnary(c.Profiles.CreateAgentProfile),
		deleteProfile: connectUnary(c.Profiles.DeleteAgentProfile),
		createSession: connectUnary(c.Sessions.CreateSession),
		getSession:    connectUnary(c.Sessions.GetSession),
		listSessions:  connectUnary(c.Sessions.ListSessions),
		deleteSession: connectUnary(c.Sessions.DeleteSession),
		writeFile:     connectUnary(c.Workspace.WriteFile),
		readFile:      connectUnary(c.Workspace.ReadFile),
		listFiles:     connectUnary(c.Workspace.ListFiles),
		setSecret:     connectUnary(c.Secrets.SetSecret),
		listSecrets:   connectUnary(c.Secrets.ListSecrets),
		deleteSecret:  connectUnary(c.Secrets.DeleteSecret),
		code:          connect.CodeOf,
	}
}

func grpcUnary[Req, Res any](
	f func(context.Context, *Req, ...grpc.CallOption) (*Res, error),
) func(context.Context, *Req) (*Res, error) {
	return func(ctx context.Context, req *Req) (*Res, error) { return f(ctx, req) }
}

func grpcAPI(conn *grpc.ClientConn) api {
	profiles := v1.NewAgentProfileServiceClient(conn)
	sessions := v1.NewSessionServiceClient(conn)
	workspace := v1.NewWorkspaceServiceClient(conn)
	secrets := v1.NewSecretServiceClient(conn)
	return api{
		createProfile: grpcUnary(profiles.CreateAgentProfile),
		deleteProfile: grpcUnary(profiles.DeleteAgentProfile),
		createSession: grpcUnary(sessions.CreateSession),
		getSession:    grpcUnary(sessions.GetSession),
		listSessions:  grpcUnary(sessions.ListSessions),
		deleteSession: grpcUnary(sessions.DeleteSession),
		writeFile:     grpcUnary(workspace.WriteFile),
		readFile:      grpcUnary(workspace.ReadFile),
		listFiles:     grpcUnary(workspace.ListFiles),
		setSecret:     grpcUnary(secrets.SetSecret),
		listSecrets:   grpcUnary(secrets.ListSecrets),
		deleteSecret:  grpcUnary(secrets.DeleteSecret),
		code: func(err error) connect.Code {
			if err == nil {
				return 0
			}
			return connect.Code(status.Code(err))
		},
	}
}

// bearerCredentials sends the API key with every grpc-go call, over cleartext too.
type bearerCredentials string

func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }

func expectCode(t *testing.T, c api, err error, want connect.Code, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, want)
		return
	}
	if got := c.code(err); got != want {
		t.Errorf("%s: got code %v (%v), want %v", what, got, err, want)
	}
}

// runScenario: profile, sessions, paging, workspace files, deletes, and the error cases.
// noKey has no API key; other belongs to another tenant.
func runScenario(t *testing.T, c, noKey, other api) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Create a profile.
	createdProfile, err := c.createProfile(ctx, &v1.CreateAgentProfileRequest{Profile: &v1.AgentProfile{
		Name:         "scenario profile",
		SystemPrompt: "You are a careful test agent.",
		Tools:        []string{"Read", "Write"},
	}})
	if err != nil {
		t.Fatalf("CreateAgentProfile: %v", err)
	}
	profile := createdProfile.GetProfile()
	if len(profile.GetId()) != 30 || profile.GetId()[:4] != "prf_" {
		t.Errorf("profile id %q, want prf_ and 26 characters", profile.GetId())
	}
	if got := profile.GetTools(); len(got) != 2 || got[0] != "Read" || got[1] != "Write" {
		t.Errorf("profile tools %v, want [Read Write]", got)
	}
	if profile.GetSystemPrompt() != "You are a careful test agent." {
		t.Errorf("profile system_prompt %q", profile.GetSystemPrompt())
	}

	// Create a session and read it back.
	createdSession, err := c.createSession(ctx, &v1.CreateSessionRequest{
		AgentProfileId: profile.GetId(),
		Name:           "first session",
		Metadata:       map[string]string{"team": "sdk", "suite": "go"},
	})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	session := createdSession.GetSession()
	if len(session.GetId()) != 30 || session.GetId()[:4] != "ses_" {
		t.Errorf("session id %q, want ses_ and 26 characters", session.GetId())
	}
	got, err := c.getSession(ctx, &v1.GetSessionRequest{SessionId: session.GetId()})
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if s := got.GetSession(); s.GetId() != session.GetId() || s.GetName() != "first session" ||
		s.GetAgentProfileId() != profile.GetId() || s.GetMetadata()["team"] != "sdk" ||
		s.GetMetadata()["suite"] != "go" || len(s.GetMetadata()) != 2 {
		t.Errorf("GetSession returned %v", s)
	}

	// Two more sessions, then list them two per page.
	ids := map[string]bool{session.GetId(): true}
	for i := range 2 {
		more, err := c.createSession(ctx, &v1.CreateSessionRequest{
			AgentProfileId: profile.GetId(),
			Name:           fmt.Sprintf("extra session %d", i),
		})
		if err != nil {
			t.Fatalf("CreateSession (extra %d): %v", i, err)
		}
		ids[more.GetSession().GetId()] = true
	}
	seen := map[string]bool{}
	pageToken := ""
	pages := 0
	for {
		page, err := c.listSessions(ctx, &v1.ListSessionsRequest{
			PageSize: 2, PageToken: pageToken, AgentProfileId: profile.GetId(),
		})
		if err != nil {
			t.Fatalf("ListSessions (page %d): %v", pages+1, err)
		}
		pages++
		if len(page.GetSessions()) > 2 {
			t.Errorf("page %d has %d sessions, want at most 2", pages, len(page.GetSessions()))
		}
		for _, s := range page.GetSessions() {
			if seen[s.GetId()] {
				t.Errorf("session %s listed twice", s.GetId())
			}
			seen[s.GetId()] = true
		}
		pageToken = page.GetNextPageToken()
		if pageToken == "" || pages > 10 {
			break
		}
	}
	if pages != 2 {
		t.Errorf("listing 3 sessions two per page took %d pages, want 2", pages)
	}
	if len(seen) != len(ids) {
		t.Errorf("listed %d sessions, want %d", len(seen), len(ids))
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("session %s was not listed", id)
		}
	}

	// A binary file with every byte value.
	content := make([]byte, 256)
	for i := range content {
		content[i] = byte(i)
	}
	sum := sha256.Sum256(content)
	wantSHA := hex.EncodeToString(sum[:])
	written, err := c.writeFile(ctx, &v1.WriteFileRequest{
		SessionId: session.GetId(), Path: "data/bytes.bin", Content: content,
	})
	if err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	if f := written.GetFile(); f.GetPath() != "data/bytes.bin" || f.GetSize() != 256 || f.GetSha256() != wantSHA {
		t.Errorf("WriteFile returned %v", f)
	}
	read, err := c.readFile(ctx, &v1.ReadFileRequest{SessionId: session.GetId(), Path: "data/bytes.bin"})
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if !bytes.Equal(read.GetContent(), content) {
		t.Errorf("ReadFile content differs: got %d bytes %x", len(read.GetContent()), read.GetContent())
	}
	files, err := c.listFiles(ctx, &v1.ListFilesRequest{SessionId: session.GetId()})
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	found := false
	for _, f := range files.GetFiles() {
		if f.GetPath() == "data/bytes.bin" {
			found = true
			if f.GetSize() != 256 || f.GetSha256() != wantSHA {
				t.Errorf("ListFiles entry %v, want size 256 sha256 %s", f, wantSHA)
			}
		}
	}
	if !found {
		t.Errorf("ListFiles did not list data/bytes.bin: %v", files.GetFiles())
	}

	// A secret: set, listed by name only (the API has no field for a value), another tenant
	// does not see it, deleted.
	set, err := c.setSecret(ctx, &v1.SetSecretRequest{Name: "GO_SDK_TOKEN", Value: "go-sdk-value"})
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if set.GetSecret().GetName() != "GO_SDK_TOKEN" || set.GetSecret().GetCreateTime() == nil {
		t.Errorf("SetSecret returned %v", set.GetSecret())
	}
	names := func(api api) []string {
		listed, err := api.listSecrets(ctx, &v1.ListSecretsRequest{})
		if err != nil {
			t.Fatalf("ListSecrets: %v", err)
		}
		var out []string
		for _, s := range listed.GetSecrets() {
			out = append(out, s.GetName())
		}
		return out
	}
	if got := names(c); len(got) != 1 || got[0] != "GO_SDK_TOKEN" {
		t.Errorf("ListSecrets: %v, want [GO_SDK_TOKEN]", got)
	}
	if got := names(other); len(got) != 0 {
		t.Errorf("ListSecrets of another tenant: %v, want none", got)
	}
	_, err = c.setSecret(ctx, &v1.SetSecretRequest{Name: "not-valid", Value: "v"})
	expectCode(t, c, err, connect.CodeInvalidArgument, "SetSecret(\"not-valid\")")
	if _, err := c.deleteSecret(ctx, &v1.DeleteSecretRequest{Name: "GO_SDK_TOKEN"}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	_, err = c.deleteSecret(ctx, &v1.DeleteSecretRequest{Name: "GO_SDK_TOKEN"})
	expectCode(t, c, err, connect.CodeNotFound, "DeleteSecret after DeleteSecret")

	// Error cases.
	_, err = c.getSession(ctx, &v1.GetSessionRequest{SessionId: unknownSessionID})
	expectCode(t, c, err, connect.CodeNotFound, "GetSession(unknown id)")
	_, err = c.getSession(ctx, &v1.GetSessionRequest{SessionId: "bad"})
	expectCode(t, c, err, connect.CodeInvalidArgument, "GetSession(\"bad\")")
	_, err = noKey.getSession(ctx, &v1.GetSessionRequest{SessionId: session.GetId()})
	expectCode(t, noKey, err, connect.CodeUnauthenticated, "GetSession without an API key")
	_, err = other.getSession(ctx, &v1.GetSessionRequest{SessionId: session.GetId()})
	expectCode(t, other, err, connect.CodeNotFound, "GetSession of another tenant's session")

	// Delete everything; the profile can go only once its sessions are gone.
	for id := range ids {
		if _, err := c.deleteSession(ctx, &v1.DeleteSessionRequest{SessionId: id}); err != nil {
			t.Fatalf("DeleteSession(%s): %v", id, err)
		}
	}
	_, err = c.getSession(ctx, &v1.GetSessionRequest{SessionId: session.GetId()})
	expectCode(t, c, err, connect.CodeNotFound, "GetSession after DeleteSession")
	if _, err := c.deleteProfile(ctx, &v1.DeleteAgentProfileRequest{AgentProfileId: profile.GetId()}); err != nil {
		t.Fatalf("DeleteAgentProfile: %v", err)
	}
}
