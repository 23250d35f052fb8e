package agentruntime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// testAnswers answers an approval on the built-in `demo-approvals` profile, then a custom tool
// and an approval with a note on a profile of its own, all while RunTurn follows the turn.
func testAnswers(t *testing.T, c *agentruntime.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	sessionID := newSession(ctx, t, c, "demo-approvals")
	turn, err := c.RunTurn(ctx, sessionID, "hello")
	if err != nil {
		t.Fatal(err)
	}
	defer turn.Close()
	var answered []string
	for event := range turn.Events() {
		waiting := event.GetToolCallWaiting().GetCall()
		if waiting == nil {
			continue
		}
		if waiting.GetKind() != v1.PendingKind_PENDING_KIND_APPROVAL || waiting.GetToolName() != "Bash" {
			t.Fatalf("waiting call %v, want an approval of Bash", waiting)
		}
		if p := turn.Pending(); len(p) != 1 || p[0].GetToolUseId() != waiting.GetToolUseId() {
			t.Fatalf("Pending() = %v", p)
		}
		decision, err := turn.Approve(ctx, waiting.GetToolUseId())
		if err != nil {
			t.Fatalf("Approve: %v", err)
		}
		if decision.GetKind() != v1.ToolDecisionKind_TOOL_DECISION_KIND_ALLOW {
			t.Errorf("decision %v, want ALLOW", decision)
		}
		answered = append(answered, waiting.GetToolUseId())
		// A second answer to the same call is a typed FAILED_PRECONDITION.
		_, err = turn.Deny(ctx, waiting.GetToolUseId(), "too late")
		var apiErr *agentruntime.Error
		if !agentruntime.IsFailedPrecondition(err) || !errors.As(err, &apiErr) || apiErr.Reason == "" {
			t.Errorf("a second answer: %v, want FAILED_PRECONDITION with a reason", err)
		}
	}
	if err := turn.Err(); err != nil {
		t.Fatal(err)
	}
	if len(answered) != 1 || turn.Outcome() != v1.TurnOutcome_TURN_OUTCOME_COMPLETED || len(turn.Pending()) != 0 {
		t.Fatalf("answered %v, outcome %v, pending %v", answered, turn.Outcome(), turn.Pending())
	}
	for _, call := range turn.Conversation().ToolCalls() {
		if call.Use.GetToolName() == "Bash" && (call.Result == nil || call.Result.GetIsError()) {
			t.Errorf("the approved Bash call did not run: %v", call.Result)
		}
	}

	// A custom tool answered with its result, then Bash denied with a reason.
	profile, err := c.CreateProfile(ctx, &v1.AgentProfile{
		Name:          "answers",
		ModelProvider: v1.ModelProvider_MODEL_PROVIDER_DEMO,
		Tools:         []string{"Write", "Bash"},
		Permissions:   &v1.PermissionSettings{Mode: v1.PermissionMode_PERMISSION_MODE_ALLOW, Ask: []string{"Bash"}},
		CustomTools: []*v1.CustomTool{{
			Name: "lookup_order", Description: "Looks up an order", InputSchemaJson: `{"type": "object"}`,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	session, err := c.CreateSession(ctx, &v1.CreateSessionRequest{AgentProfileId: profile.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	turn, err = c.RunTurn(ctx, session.GetId(), "lookup_order 42")
	if err != nil {
		t.Fatal(err)
	}
	defer turn.Close()
	var kinds []v1.PendingKind
	for turn.Next() {
		waiting := turn.Event().GetToolCallWaiting().GetCall()
		switch waiting.GetKind() {
		case v1.PendingKind_PENDING_KIND_CUSTOM_TOOL:
			_, err = turn.SendToolResult(ctx, waiting.GetToolUseId(), "order 42: shipped", false)
		case v1.PendingKind_PENDING_KIND_APPROVAL:
			_, err = c.Deny(ctx, session.GetId(), waiting.GetToolUseId(), "not today")
		default:
			continue
		}
		if err != nil {
			t.Fatalf("answering %v: %v", waiting, err)
		}
		kinds = append(kinds, waiting.GetKind())
	}
	if err := turn.Err(); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 2 || kinds[0] != v1.PendingKind_PENDING_KIND_CUSTOM_TOOL || kinds[1] != v1.PendingKind_PENDING_KIND_APPROVAL {
		t.Fatalf("answered %v, want the custom tool then the approval", kinds)
	}
	if final := turn.Conversation().FinalText(); !strings.Contains(final, "order 42: shipped") {
		t.Errorf("the final text does not quote the custom tool's result: %q", final)
	}
	for _, call := range turn.Conversation().ToolCalls() {
		if call.Use.GetToolName() == "Bash" && call.Use.GetStatus() != v1.ToolStatus_TOOL_STATUS_DENIED {
			t.Errorf("the denied Bash call has status %v", call.Use.GetStatus())
		}
	}
}
