package agentruntime

import (
	"context"
	"iter"
	"slices"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// Turn is a message sent with RunTurn and the agent's work on it: its events, in order, until
// the turn ends, with its conversation folded as they come.
//
//	turn, err := client.RunTurn(ctx, sessionID, "hello")
//	if err != nil { ... }
//	for event := range turn.Events() { ... } // or: for turn.Next() { turn.Event() }
//	if err := turn.Err(); err != nil { ... }
//	fmt.Println(turn.Outcome(), turn.Conversation().FinalText())
//
// A Turn is not safe for concurrent use, except Close and the answer methods.
type Turn struct {
	client    *Client
	sessionID string
	sent      *v1.SendMessageResponse
	watch     *Watch
	conv      *Conversation
	event     *v1.SessionEvent
	result    *v1.Turn
	reason    string
	pending   []*v1.PendingToolCall
	done      bool
}

// MessageOption adds to a message sent with RunTurn or SendMessage.
type MessageOption func(*v1.SendMessageRequest)

// WithAttachment attaches a file (an image, a PDF or text) to the message.
func WithAttachment(name, mediaType string, data []byte) MessageOption {
	return func(r *v1.SendMessageRequest) {
		r.Attachments = append(r.Attachments, &v1.Attachment{Name: name, MediaType: mediaType, Data: data})
	}
}

// WithPolicy says what happens when a turn runs already (queue, reject, interrupt, steer).
func WithPolicy(policy v1.SendPolicy) MessageOption {
	return func(r *v1.SendMessageRequest) { r.Policy = policy }
}

// RunTurn sends text to the session and returns the turn that answers it. It opens the
// session's feed at its current sequence before sending, so no event of the turn is missed,
// and resumes by sequence on a new connection when one drops (see Watch). The turn's events
// follow until its TurnCompleted event; ending ctx stops following (the turn goes on on the
// server: Cancel ends it).
func (c *Client) RunTurn(ctx context.Context, sessionID, text string, opts ...MessageOption) (*Turn, error) {
	session, err := c.GetSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	watch := c.Watch(ctx, sessionID, session.GetLastSequence())
	watch.connect()
	sent, err := c.SendMessage(ctx, sessionID, text, opts...)
	if err != nil {
		_ = watch.Close()
		return nil, err
	}
	return &Turn{client: c, sessionID: sessionID, sent: sent, watch: watch, conv: NewConversation()}, nil
}

// SendMessage queues a message and returns at once with the id of the turn that will answer
// it; RunTurn also follows that turn.
func (c *Client) SendMessage(ctx context.Context, sessionID, text string, opts ...MessageOption) (*v1.SendMessageResponse, error) {
	req := &v1.SendMessageRequest{SessionId: sessionID, Text: text}
	for _, opt := range opts {
		opt(req)
	}
	res, err := c.Sessions.SendMessage(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// Next waits for the turn's next event and reports whether there is one. It returns false
// after the TurnCompleted event, when ctx ends, after Close, or when the feed fails for good
// (see Err).
func (t *Turn) Next() bool {
	if t.done {
		return false
	}
	for t.watch.Next() {
		event := t.watch.Event()
		if event.GetTurnId() != t.sent.GetTurnId() {
			continue // another turn's (one queued before this one)
		}
		t.conv.Apply(event)
		t.event = event
		switch p := event.GetPayload().(type) {
		case *v1.SessionEvent_ToolCallWaiting:
			t.pending = append(t.pending, p.ToolCallWaiting.GetCall())
		case *v1.SessionEvent_ToolCallAnswered:
			id := p.ToolCallAnswered.GetDecision().GetToolUseId()
			t.pending = slices.DeleteFunc(t.pending, func(c *v1.PendingToolCall) bool { return c.GetToolUseId() == id })
		case *v1.SessionEvent_TurnCompleted:
			if event.GetSubagentId() != "" {
				break // the turn's, not a subagent's, ends the turn
			}
			t.result, t.reason = p.TurnCompleted.GetTurn(), p.TurnCompleted.GetReason()
			t.done = true
			_ = t.watch.Close()
		}
		return true
	}
	return false
}

// Event returns the event Next found.
func (t *Turn) Event() *v1.SessionEvent { return t.event }

// Events returns an iterator over the turn's events; check Err after the loop.
func (t *Turn) Events() iter.Seq[*v1.SessionEvent] {
	return func(yield func(*v1.SessionEvent) bool) {
		for t.Next() {
			if !yield(t.Event()) {
				return
			}
		}
	}
}

// Err returns why the events stopped before the turn ended: nil when it ended (whatever its
// outcome) or after Close, the context's error, or an *Error.
func (t *Turn) Err() error {
	if t.done {
		return nil
	}
	return t.watch.Err()
}

// Wait reads the remaining events and returns the turn as it ended (outcome, usage).
func (t *Turn) Wait() (*v1.Turn, error) {
	for t.Next() {
	}
	return t.result, t.Err()
}

// Close stops following the turn (it goes on on the server) and releases the connection.
func (t *Turn) Close() error { return t.watch.Close() }

// ID returns the turn's id.
func (t *Turn) ID() string { return t.sent.GetTurnId() }

// SessionID returns the session's id.
func (t *Turn) SessionID() string { return t.sessionID }

// Queued reports whether the turn waited for another one when the message was sent.
func (t *Turn) Queued() bool { return t.sent.GetQueued() }

// Conversation returns the turn's blocks folded from the events read so far.
func (t *Turn) Conversation() *Conversation { return t.conv }

// Done reports whether the turn ended (its TurnCompleted event was read).
func (t *Turn) Done() bool { return t.done }

// Result returns the turn as it ended (outcome, usage, times), or nil before it ends.
func (t *Turn) Result() *v1.Turn { return t.result }

// Outcome returns how the turn ended, or TURN_OUTCOME_UNSPECIFIED before it ends.
func (t *Turn) Outcome() v1.TurnOutcome { return t.result.GetOutcome() }

// Reason returns why the turn ended that way, when the server says (`max_turns reached`).
func (t *Turn) Reason() string { return t.reason }

// Pending returns the tool calls of the turn waiting for an answer (Approve, Deny,
// SendToolResult), oldest first.
func (t *Turn) Pending() []*v1.PendingToolCall { return slices.Clone(t.pending) }

// Sequence returns the sequence of the last event read: a Watch started after it continues
// where the turn left off.
func (t *Turn) Sequence() int64 { return t.watch.Sequence() }

// Reconnects returns how many times the turn's feed resumed on a new connection.
func (t *Turn) Reconnects() int { return t.watch.Reconnects() }

// Cancel asks the server to end the turn now; its remaining events (down to TurnCompleted with
// outcome CANCELLED) still come through Next. It reports false when the turn had ended.
func (t *Turn) Cancel(ctx context.Context) (bool, error) {
	res, err := t.client.Sessions.CancelTurn(ctx, connect.NewRequest(&v1.CancelTurnRequest{
		SessionId: t.sessionID, TurnId: t.ID(),
	}))
	if err != nil {
		return false, err
	}
	return res.Msg.GetCancelled(), nil
}
