package agentruntime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// nextWaitingCall follows the feed after `after` until a tool call waits.
func nextWaitingCall(ctx context.Context, t *testing.T, c *agentruntime.Client, sessionID string, after int64) (*v1.PendingToolCall, int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Sessions.StreamEvents(ctx, connect.NewRequest(&v1.StreamEventsRequest{
		SessionId: sessionID, AfterSequence: after,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for stream.Receive() {
		e := stream.Msg().GetEvent()
		if w := e.GetToolCallWaiting(); w != nil {
			return w.GetCall(), e.GetSequence()
		}
	}
	t.Fatalf("the feed ended before a tool call waited: %v", stream.Err())
	return nil, 0
}

// TestWaitingTurn answers a custom tool call and an approval through the SDK. The profile uses
// the offline demo model: it calls the custom tool its message names, writes a note, then runs
// Bash, which the profile's permissions make wait for an approval.
func TestWaitingTurn(t *testing.T) {
	srv := startServer(t, map[string]string{"AGENT_RUNTIME_API_KEYS": apiKey + "=acme"})
	c := agentruntime.NewClient(srv.URL, apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	profile, err := c.Profiles.CreateAgentProfile(ctx, connect.NewRequest(&v1.CreateAgentProfileRequest{
		Profile: &v1.AgentProfile{
			Name:          "waiting profile",
			ModelProvider: v1.ModelProvider_MODEL_PROVIDER_DEMO,
			Tools:         []string{"Write", "Bash"},
			Permissions: &v1.PermissionSettings{
				Mode: v1.PermissionMode_PERMISSION_MODE_ALLOW,
				Ask:  []string{"Bash"},
			},
			CustomTools: []*v1.CustomTool{{
				Name:            "lookup_order",
				Description:     "Looks up an order",
				InputSchemaJson: `{"type": "object"}`,
			}},
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	session, err := c.Sessions.CreateSession(ctx, connect.NewRequest(&v1.CreateSessionRequest{
		AgentProfileId: profile.Msg.GetProfile().GetId(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	sessionID := session.Msg.GetSession().GetId()
	sent, err := c.Sessions.SendMessage(ctx, connect.NewRequest(&v1.SendMessageRequest{
		SessionId: sessionID, Text: "lookup_order 42",
	}))
	if err != nil {
		t.Fatal(err)
	}

	call, seq := nextWaitingCall(ctx, t, c, sessionID, 0)
	if call.GetToolName() != "lookup_order" || call.GetKind() != v1.PendingKind_PENDING_KIND_CUSTOM_TOOL {
		t.Fatalf("first waiting call: %v", call)
	}
	got, err := c.Sessions.GetSession(ctx, connect.NewRequest(&v1.GetSessionRequest{SessionId: sessionID}))
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Msg.GetSession(); s.GetState() != v1.SessionState_SESSION_STATE_WAITING ||
		len(s.GetRuntime().GetPendingToolCalls()) != 1 {
		t.Fatalf("session while waiting: state %v, pending %v", s.GetState(), s.GetRuntime().GetPendingToolCalls())
	}
	if _, err := c.Sessions.AnswerToolCall(ctx, connect.NewRequest(&v1.AnswerToolCallRequest{
		SessionId: sessionID,
		ToolUseId: call.GetToolUseId(),
		Answer: &v1.AnswerToolCallRequest_Result{Result: &v1.CustomToolResult{
			Output: "order 42: shipped",
		}},
	})); err != nil {
		t.Fatal(err)
	}

	bash, seq := nextWaitingCall(ctx, t, c, sessionID, seq)
	if bash.GetToolName() != "Bash" || bash.GetKind() != v1.PendingKind_PENDING_KIND_APPROVAL {
		t.Fatalf("second waiting call: %v", bash)
	}
	approve := func(allow bool) error {
		_, err := c.Sessions.AnswerToolCall(ctx, connect.NewRequest(&v1.AnswerToolCallRequest{
			SessionId: sessionID,
			ToolUseId: bash.GetToolUseId(),
			Answer:    &v1.AnswerToolCallRequest_Approval{Approval: &v1.ApprovalAnswer{Allow: allow}},
		}))
		return err
	}
	if err := approve(true); err != nil {
		t.Fatal(err)
	}
	var ce *connect.Error
	if err := approve(false); !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		t.Fatalf("a second answer: got %v, want FailedPrecondition", err)
	}

	stream, err := c.Sessions.StreamEvents(ctx, connect.NewRequest(&v1.StreamEventsRequest{
		SessionId: sessionID, AfterSequence: seq,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	final := ""
	for stream.Receive() {
		e := stream.Msg().GetEvent()
		if text := e.GetBlockCompleted().GetBlock().GetAssistantText(); text != nil {
			final = text.GetText()
		}
		if done := e.GetTurnCompleted(); done != nil && e.GetTurnId() == sent.Msg.GetTurnId() {
			if done.GetTurn().GetOutcome() != v1.TurnOutcome_TURN_OUTCOME_COMPLETED {
				t.Fatalf("turn outcome %v", done.GetTurn().GetOutcome())
			}
			break
		}
	}
	if !strings.Contains(final, "order 42: shipped") {
		t.Fatalf("the model's last text does not quote the custom tool's result: %q", final)
	}
	decisions, err := c.Sessions.ListToolDecisions(ctx, connect.NewRequest(&v1.ListToolDecisionsRequest{
		SessionId: sessionID,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(decisions.Msg.GetDecisions()); n != 2 {
		t.Fatalf("%d decisions, want 2", n)
	}
}
