package agentruntime_test

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

func started(b *v1.Block) *v1.SessionEvent {
	return &v1.SessionEvent{Payload: &v1.SessionEvent_BlockStarted{BlockStarted: &v1.BlockStarted{Block: b}}}
}

func completed(b *v1.Block) *v1.SessionEvent {
	return &v1.SessionEvent{Payload: &v1.SessionEvent_BlockCompleted{BlockCompleted: &v1.BlockCompleted{Block: b}}}
}

func delta(id string, d *v1.BlockDelta) *v1.SessionEvent {
	d.BlockId = id
	return &v1.SessionEvent{Payload: &v1.SessionEvent_BlockDelta{BlockDelta: d}}
}

// TestConversationFold folds each kind of delta, and events of blocks it never saw start.
func TestConversationFold(t *testing.T) {
	c := agentruntime.NewConversation(&v1.Block{Id: "u", Content: &v1.Block_UserMessage{UserMessage: &v1.UserMessageBlock{Text: "hi"}}})
	text := &v1.Block{Id: "a", Content: &v1.Block_AssistantText{AssistantText: &v1.AssistantTextBlock{}}}
	use := &v1.Block{Id: "t", Content: &v1.Block_ToolUse{ToolUse: &v1.ToolUseBlock{ToolUseId: "call", ToolName: "Bash"}}}
	result := &v1.Block{Id: "r", Content: &v1.Block_ToolResult{ToolResult: &v1.ToolResultBlock{ToolUseId: "call"}}}
	think := &v1.Block{Id: "k", Content: &v1.Block_Thinking{Thinking: &v1.ThinkingBlock{}}}
	events := []*v1.SessionEvent{
		started(think), delta("k", &v1.BlockDelta{Delta: &v1.BlockDelta_Thinking{Thinking: "hmm"}}),
		started(text),
		delta("a", &v1.BlockDelta{Delta: &v1.BlockDelta_Text{Text: "Hello, "}}),
		delta("a", &v1.BlockDelta{Delta: &v1.BlockDelta_Text{Text: "world"}}),
		delta("missing", &v1.BlockDelta{Delta: &v1.BlockDelta_Text{Text: "lost"}}),
		started(use),
		delta("t", &v1.BlockDelta{Delta: &v1.BlockDelta_InputJson{InputJson: `{"command":`}}),
		delta("t", &v1.BlockDelta{Delta: &v1.BlockDelta_InputJson{InputJson: `"ls"}`}}),
		started(result),
		delta("r", &v1.BlockDelta{Delta: &v1.BlockDelta_Output{Output: "a.txt\n"}}),
		{Payload: &v1.SessionEvent_TurnStarted{TurnStarted: &v1.TurnStarted{}}},
	}
	for _, e := range events {
		c.Apply(e)
	}
	if text.GetAssistantText().GetText() != "" {
		t.Fatal("Apply changed the event's block")
	}
	if got := c.FinalText(); got != "Hello, world" || c.Completed("a") {
		t.Errorf("FinalText %q (complete %v) while streaming", got, c.Completed("a"))
	}
	calls := c.ToolCalls()
	if len(calls) != 1 || calls[0].Use.GetInputJson() != `{"command":"ls"}` || calls[0].Result.GetOutput() != "a.txt\n" {
		t.Errorf("tool calls %v", calls)
	}
	if c.Block("k").GetThinking().GetThinking() != "hmm" || c.Block("missing") != nil {
		t.Errorf("thinking %v, missing %v", c.Block("k"), c.Block("missing"))
	}
	// A completion replaces the block with the server's; one never started is added.
	c.Apply(completed(&v1.Block{Id: "a", Content: &v1.Block_AssistantText{AssistantText: &v1.AssistantTextBlock{Text: "Hello, world!"}}}))
	c.Apply(completed(&v1.Block{Id: "late", SubagentId: "sub", Content: &v1.Block_AssistantText{AssistantText: &v1.AssistantTextBlock{Text: "from a subagent"}}}))
	if c.FinalText() != "Hello, world!" || !c.Completed("a") || len(c.Blocks()) != 6 || c.Blocks()[5].GetId() != "late" {
		t.Errorf("after completion: %q, %d blocks", c.FinalText(), len(c.Blocks()))
	}
	want := "user: hi\nthinking: hmm\nassistant: Hello, world!\ntool Bash {\"command\":\"ls\"}: unspecified\nresult: a.txt\n\n[sub] assistant: from a subagent"
	if got := c.String(); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
}

// TestErrorHelpers checks the typed error without a server.
func TestErrorHelpers(t *testing.T) {
	if got := agentruntime.CodeName(connect.CodeCanceled); got != "CANCELLED" {
		t.Errorf("CodeName(Canceled) = %q", got)
	}
	if got := agentruntime.CodeName(connect.CodeFailedPrecondition); got != "FAILED_PRECONDITION" {
		t.Errorf("CodeName(FailedPrecondition) = %q", got)
	}
	if agentruntime.AsError(nil) != nil {
		t.Error("AsError(nil) is not nil")
	}
	wrapped := fmt.Errorf("calling: %w", connect.NewError(connect.CodeNotFound, errors.New("gone")))
	var apiErr *agentruntime.Error
	if err := agentruntime.AsError(wrapped); !errors.As(err, &apiErr) || apiErr.Code != connect.CodeNotFound ||
		apiErr.Message != "gone" || apiErr.Error() != "NOT_FOUND: gone" {
		t.Errorf("AsError(%v) = %v", wrapped, err)
	}
	if err := agentruntime.AsError(errors.New("boom")); !errors.As(err, &apiErr) || apiErr.Code != connect.CodeUnknown {
		t.Errorf("AsError(plain) = %v", err)
	}
	if !agentruntime.IsNotFound(wrapped) || agentruntime.IsNotFound(nil) || agentruntime.ReasonOf(nil) != "" {
		t.Error("helpers on a wrapped and a nil error")
	}
}
