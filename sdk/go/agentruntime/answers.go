package agentruntime

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// ApprovalOption adds to an approval given with Approve.
type ApprovalOption func(*v1.ApprovalAnswer)

// WithNote sends the model a note with the approval.
func WithNote(message string) ApprovalOption {
	return func(a *v1.ApprovalAnswer) { a.Message = message }
}

// WithUpdatedInput runs the tool with this input instead of the model's (JSON text of an
// object).
func WithUpdatedInput(inputJSON string) ApprovalOption {
	return func(a *v1.ApprovalAnswer) { a.UpdatedInputJson = inputJSON }
}

// WithAlwaysAllow also allows, for the rest of the session, every call matching rule (Claude
// Code's rule syntax, for example `Bash(npm test:*)`).
func WithAlwaysAllow(rule string) ApprovalOption {
	return func(a *v1.ApprovalAnswer) { a.AlwaysAllowRule = rule }
}

// Approve allows a tool call waiting for approval (a ToolCallWaiting event of kind APPROVAL);
// the turn goes on. Answering a call twice, or one that does not wait, is a
// FAILED_PRECONDITION error.
func (c *Client) Approve(ctx context.Context, sessionID, toolUseID string, opts ...ApprovalOption) (*v1.ToolDecision, error) {
	answer := &v1.ApprovalAnswer{Allow: true}
	for _, opt := range opts {
		opt(answer)
	}
	return c.answer(ctx, &v1.AnswerToolCallRequest{
		SessionId: sessionID, ToolUseId: toolUseID,
		Answer: &v1.AnswerToolCallRequest_Approval{Approval: answer},
	})
}

// Deny refuses a tool call waiting for approval; message tells the model why.
func (c *Client) Deny(ctx context.Context, sessionID, toolUseID, message string) (*v1.ToolDecision, error) {
	return c.answer(ctx, &v1.AnswerToolCallRequest{
		SessionId: sessionID, ToolUseId: toolUseID,
		Answer: &v1.AnswerToolCallRequest_Approval{Approval: &v1.ApprovalAnswer{Allow: false, Message: message}},
	})
}

// SendToolResult answers a custom tool call (a ToolCallWaiting event of kind CUSTOM_TOOL)
// with the tool's output; isError tells the model the tool failed.
func (c *Client) SendToolResult(ctx context.Context, sessionID, toolUseID, output string, isError bool) (*v1.ToolDecision, error) {
	return c.answer(ctx, &v1.AnswerToolCallRequest{
		SessionId: sessionID, ToolUseId: toolUseID,
		Answer: &v1.AnswerToolCallRequest_Result{Result: &v1.CustomToolResult{Output: output, IsError: isError}},
	})
}

func (c *Client) answer(ctx context.Context, req *v1.AnswerToolCallRequest) (*v1.ToolDecision, error) {
	res, err := c.Sessions.AnswerToolCall(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetDecision(), nil
}

// Approve allows one of the turn's waiting tool calls (see Pending).
func (t *Turn) Approve(ctx context.Context, toolUseID string, opts ...ApprovalOption) (*v1.ToolDecision, error) {
	return t.client.Approve(ctx, t.sessionID, toolUseID, opts...)
}

// Deny refuses one of the turn's waiting tool calls; message tells the model why.
func (t *Turn) Deny(ctx context.Context, toolUseID, message string) (*v1.ToolDecision, error) {
	return t.client.Deny(ctx, t.sessionID, toolUseID, message)
}

// SendToolResult answers one of the turn's waiting custom tool calls.
func (t *Turn) SendToolResult(ctx context.Context, toolUseID, output string, isError bool) (*v1.ToolDecision, error) {
	return t.client.SendToolResult(ctx, t.sessionID, toolUseID, output, isError)
}
