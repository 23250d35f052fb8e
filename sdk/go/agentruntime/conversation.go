package agentruntime

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// Conversation is a session's conversation as whole blocks, folded from events: a block
// started is added, its deltas appended (text, thinking, tool input, tool output), and an
// update or completion replaces it with the server's version. A script or a UI reads what
// the assistant said, which tools it ran and what they returned, without its own state
// machine. RunTurn keeps one for its turn (Turn.Conversation); fold a Watch's events with
// Apply, or load a session's saved blocks with Client.LoadConversation.
//
// A Conversation is not safe for concurrent use.
type Conversation struct {
	blocks   []*v1.Block
	index    map[string]int
	complete map[string]bool
}

// NewConversation returns a conversation that starts with blocks (complete ones, for example
// from ListMessages).
func NewConversation(blocks ...*v1.Block) *Conversation {
	c := &Conversation{index: map[string]int{}, complete: map[string]bool{}}
	for _, b := range blocks {
		c.put(proto.Clone(b).(*v1.Block))
		c.complete[b.GetId()] = true
	}
	return c
}

// Apply folds one event in and returns the block it changed, or nil for an event that is not
// about a block (or a delta of a block it never saw start).
func (c *Conversation) Apply(event *v1.SessionEvent) *v1.Block {
	if c.index == nil {
		c.index, c.complete = map[string]int{}, map[string]bool{}
	}
	switch p := event.GetPayload().(type) {
	case *v1.SessionEvent_BlockStarted:
		return c.put(proto.Clone(p.BlockStarted.GetBlock()).(*v1.Block))
	case *v1.SessionEvent_BlockUpdated:
		return c.put(proto.Clone(p.BlockUpdated.GetBlock()).(*v1.Block))
	case *v1.SessionEvent_BlockCompleted:
		b := c.put(proto.Clone(p.BlockCompleted.GetBlock()).(*v1.Block))
		c.complete[b.GetId()] = true
		return b
	case *v1.SessionEvent_BlockDelta:
		return c.applyDelta(p.BlockDelta)
	}
	return nil
}

func (c *Conversation) put(b *v1.Block) *v1.Block {
	if i, ok := c.index[b.GetId()]; ok {
		c.blocks[i] = b
		return b
	}
	c.index[b.GetId()] = len(c.blocks)
	c.blocks = append(c.blocks, b)
	return b
}

func (c *Conversation) applyDelta(d *v1.BlockDelta) *v1.Block {
	i, ok := c.index[d.GetBlockId()]
	if !ok {
		return nil
	}
	b := c.blocks[i]
	switch x := d.GetDelta().(type) {
	case *v1.BlockDelta_Text:
		if t := b.GetAssistantText(); t != nil {
			t.Text += x.Text
		}
	case *v1.BlockDelta_Thinking:
		if t := b.GetThinking(); t != nil {
			t.Thinking += x.Thinking
		}
	case *v1.BlockDelta_InputJson:
		if t := b.GetToolUse(); t != nil {
			t.InputJson += x.InputJson
		}
	case *v1.BlockDelta_Output:
		if t := b.GetToolResult(); t != nil {
			t.Output += x.Output
		}
	}
	return b
}

// Blocks returns the blocks in the order they started. They are the conversation's own: read,
// do not change them.
func (c *Conversation) Blocks() []*v1.Block { return c.blocks }

// Block returns the block with id, or nil.
func (c *Conversation) Block(id string) *v1.Block {
	if i, ok := c.index[id]; ok {
		return c.blocks[i]
	}
	return nil
}

// Completed reports whether the block with id is final (its BlockCompleted was applied).
func (c *Conversation) Completed(id string) bool { return c.complete[id] }

// FinalText returns the text of the last assistant text block of the main agent (not a
// subagent's), or "".
func (c *Conversation) FinalText() string {
	for i := len(c.blocks) - 1; i >= 0; i-- {
		b := c.blocks[i]
		if t := b.GetAssistantText(); t != nil && b.GetSubagentId() == "" {
			return t.GetText()
		}
	}
	return ""
}

// Text returns every assistant text of the main agent, in order, separated by blank lines.
func (c *Conversation) Text() string {
	var parts []string
	for _, b := range c.blocks {
		if t := b.GetAssistantText(); t != nil && b.GetSubagentId() == "" && t.GetText() != "" {
			parts = append(parts, t.GetText())
		}
	}
	return strings.Join(parts, "\n\n")
}

// ToolCall is a tool call and, once there is one, its result.
type ToolCall struct {
	Use    *v1.ToolUseBlock
	Result *v1.ToolResultBlock // nil until the result block started
	// SubagentID is set when a subagent made the call.
	SubagentID string
}

// ToolCalls returns every tool call, in order, each with its result.
func (c *Conversation) ToolCalls() []ToolCall {
	var calls []ToolCall
	byID := map[string]int{}
	for _, b := range c.blocks {
		if u := b.GetToolUse(); u != nil {
			byID[u.GetToolUseId()] = len(calls)
			calls = append(calls, ToolCall{Use: u, SubagentID: b.GetSubagentId()})
		}
	}
	for _, b := range c.blocks {
		if r := b.GetToolResult(); r != nil {
			if i, ok := byID[r.GetToolUseId()]; ok {
				calls[i].Result = r
			}
		}
	}
	return calls
}

// ToolNames returns the name of every tool call, in order (`Write`, `Bash`).
func (c *Conversation) ToolNames() []string {
	var names []string
	for _, call := range c.ToolCalls() {
		names = append(names, call.Use.GetToolName())
	}
	return names
}

// String returns the conversation as a transcript, one paragraph per block: `user: ...`,
// `assistant: ...`, `tool Write {...}: succeeded`, `result: ...`.
func (c *Conversation) String() string {
	var b strings.Builder
	for _, block := range c.blocks {
		if line := describe(block); line != "" {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			if block.GetSubagentId() != "" {
				b.WriteString("[" + block.GetSubagentId() + "] ")
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

func describe(b *v1.Block) string {
	switch {
	case b.GetUserMessage() != nil:
		return "user: " + b.GetUserMessage().GetText()
	case b.GetAssistantText() != nil:
		return "assistant: " + b.GetAssistantText().GetText()
	case b.GetThinking() != nil:
		return "thinking: " + b.GetThinking().GetThinking()
	case b.GetToolUse() != nil:
		u := b.GetToolUse()
		status := strings.ToLower(strings.TrimPrefix(u.GetStatus().String(), "TOOL_STATUS_"))
		return fmt.Sprintf("tool %s %s: %s", u.GetToolName(), u.GetInputJson(), status)
	case b.GetToolResult() != nil:
		r := b.GetToolResult()
		if r.GetIsError() {
			return "error: " + r.GetOutput()
		}
		return "result: " + r.GetOutput()
	case b.GetSubagent() != nil:
		return fmt.Sprintf("subagent %s: %s", b.GetSubagent().GetName(), b.GetSubagent().GetResult())
	case b.GetSystem() != nil:
		return "system: " + b.GetSystem().GetText()
	case b.GetError() != nil:
		return fmt.Sprintf("error %s: %s", b.GetError().GetReason(), b.GetError().GetMessage())
	case b.GetCompaction() != nil:
		return "compacted: " + b.GetCompaction().GetSummary()
	}
	return ""
}

// LoadConversation returns a session's saved conversation (ListMessages, every page).
func (c *Client) LoadConversation(ctx context.Context, sessionID string) (*Conversation, error) {
	var blocks []*v1.Block
	token := ""
	for {
		res, err := c.Sessions.ListMessages(ctx, connect.NewRequest(&v1.ListMessagesRequest{
			SessionId: sessionID, PageSize: 1000, PageToken: token,
		}))
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, res.Msg.GetBlocks()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return NewConversation(blocks...), nil
		}
	}
}
