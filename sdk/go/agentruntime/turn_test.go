package agentruntime_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// newSession creates a session of the named built-in profile (`demo`, `demo-approvals`).
func newSession(ctx context.Context, t *testing.T, c *agentruntime.Client, profile string) string {
	t.Helper()
	p, err := c.FindProfile(ctx, profile)
	if err != nil {
		t.Fatalf("FindProfile(%q): %v", profile, err)
	}
	s, err := c.CreateSession(ctx, &v1.CreateSessionRequest{AgentProfileId: p.GetId()})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s.GetId()
}

// checkContiguous fails unless seqs are first, first+1, ... with no gap or duplicate.
func checkContiguous(t *testing.T, seqs []int64, first int64) {
	t.Helper()
	if len(seqs) == 0 {
		t.Fatal("no events")
	}
	for i, s := range seqs {
		if s != first+int64(i) {
			t.Fatalf("sequence %d at position %d, want %d (all: %v)", s, i, first+int64(i), seqs)
		}
	}
}

// TestSDK runs the SDK's calls against one real server: turns (through a proxy that cuts the
// connection mid-feed), watches, the conversation fold, typed errors, cancellation, answers.
func TestSDK(t *testing.T) {
	srv := startServer(t, map[string]string{"AGENT_RUNTIME_API_KEYS": apiKey + "=acme"})
	direct := agentruntime.NewClient(srv.URL, apiKey)

	protocols := []struct {
		name string
		opts []agentruntime.Option
	}{
		{"grpc-h2c", nil},
		{"connect-json-http1.1", []agentruntime.Option{
			agentruntime.WithProtocol(agentruntime.ProtocolConnectJSON),
			agentruntime.WithHTTPClient(&http.Client{}),
		}},
	}
	for _, p := range protocols {
		t.Run("RunTurn resumes after a cut/"+p.name, func(t *testing.T) {
			testRunTurnCut(t, srv, direct, p.opts)
		})
	}
	t.Run("Watch from a sequence, through a cut", func(t *testing.T) { testWatch(t, srv, direct) })
	t.Run("typed errors", func(t *testing.T) { testErrors(t, srv) })
	t.Run("context cancellation and Cancel", func(t *testing.T) { testCancel(t, direct) })
	t.Run("approvals and custom tools", func(t *testing.T) { testAnswers(t, direct) })
	t.Run("configuration from the environment, TLS", func(t *testing.T) { testEnvironment(t, srv) })
	t.Run("examples/go/runturn", func(t *testing.T) { testExample(t, srv) })
	t.Run("scenario runner", func(t *testing.T) { testScenarioRunner(t, srv, direct) })
}

func testRunTurnCut(t *testing.T, srv *testServer, direct *agentruntime.Client, opts []agentruntime.Option) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	proxy := startProxy(t, srv.Addr, nil)
	c := agentruntime.NewClient(proxy.URL, apiKey, opts...)
	sessionID := newSession(ctx, t, c, "demo")

	turn, err := c.RunTurn(ctx, sessionID, "hello")
	if err != nil {
		t.Fatalf("RunTurn: %v", err)
	}
	defer turn.Close()
	var seqs []int64
	cuts := 0
	for event := range turn.Events() {
		if event.GetTurnId() != turn.ID() {
			t.Errorf("event %d of turn %q in turn %s", event.GetSequence(), event.GetTurnId(), turn.ID())
		}
		seqs = append(seqs, event.GetSequence())
		if len(seqs) == 12 || len(seqs) == 40 {
			cuts += proxy.Cut()
		}
	}
	if err := turn.Err(); err != nil {
		t.Fatalf("turn: %v (events %v)", err, seqs)
	}
	if cuts < 2 {
		t.Fatalf("the proxy cut %d connections, want one at each of two cuts", cuts)
	}
	// Each cut drops the connection the turn reads from; the events read after it may still
	// come from the client's buffer, but the turn goes on for seconds: at least one resume.
	if turn.Reconnects() < 1 {
		t.Errorf("the turn reconnected %d times, want at least 1", turn.Reconnects())
	}
	checkContiguous(t, seqs, 1) // a new session: the turn's events are all of the session's
	if got := turn.Outcome(); got != v1.TurnOutcome_TURN_OUTCOME_COMPLETED {
		t.Fatalf("outcome %v, want COMPLETED", got)
	}
	if last := seqs[len(seqs)-1]; last != turn.Sequence() {
		t.Errorf("Sequence() = %d, want the last event's %d", turn.Sequence(), last)
	}

	// The fold equals the conversation the server saved, block for block.
	conv := turn.Conversation()
	saved, err := direct.LoadConversation(ctx, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Blocks()) != len(saved.Blocks()) {
		t.Fatalf("folded %d blocks, the server saved %d:\n%s\n---\n%s", len(conv.Blocks()), len(saved.Blocks()), conv, saved)
	}
	for i, b := range conv.Blocks() {
		if !proto.Equal(b, saved.Blocks()[i]) {
			t.Errorf("block %d differs:\nfolded %v\nsaved  %v", i, b, saved.Blocks()[i])
		}
		if !conv.Completed(b.GetId()) {
			t.Errorf("block %s is not complete", b.GetId())
		}
	}
	if names := conv.ToolNames(); !slices.Contains(names, "Write") || !slices.Contains(names, "Bash") {
		t.Errorf("tool names %v, want Write and Bash", names)
	}
	for _, call := range conv.ToolCalls() {
		if call.Result == nil || call.Result.GetOutput() == "" {
			t.Errorf("tool call %s has no result: %v", call.Use.GetToolName(), call.Result)
		}
	}
	if final := conv.FinalText(); !strings.Contains(final, "notes/demo.md") {
		t.Errorf("final text %q does not mention notes/demo.md", final)
	}
	if s := conv.String(); !strings.HasPrefix(s, "user: hello\nassistant: ") || !strings.Contains(s, "tool Write ") {
		t.Errorf("transcript:\n%s", s)
	}
	content, err := c.ReadFile(ctx, sessionID, "notes/demo.md")
	if err != nil || !strings.Contains(string(content), "hello") {
		t.Errorf("ReadFile(notes/demo.md) = %q, %v", content, err)
	}
}

func testWatch(t *testing.T, srv *testServer, direct *agentruntime.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sessionID := newSession(ctx, t, direct, "demo")
	sent, err := direct.SendMessage(ctx, sessionID, "watch me")
	if err != nil {
		t.Fatal(err)
	}

	// From a sequence, through a proxy cut twice while the turn runs (it emits events for
	// seconds after the first cut, so those can only come through a new connection).
	proxy := startProxy(t, srv.Addr, nil)
	c := agentruntime.NewClient(proxy.URL, apiKey)
	const from = 5
	watch := c.Watch(ctx, sessionID, from)
	var seqs []int64
	conv := agentruntime.NewConversation()
	for event := range watch.Events() {
		seqs = append(seqs, event.GetSequence())
		conv.Apply(event)
		if len(seqs) == 3 || len(seqs) == 30 {
			proxy.Cut()
		}
		if event.GetTurnCompleted() != nil && event.GetTurnId() == sent.GetTurnId() {
			_ = watch.Close()
		}
	}
	if err := watch.Err(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	checkContiguous(t, seqs, from+1)
	last := seqs[len(seqs)-1]
	if _, cut := proxy.Stats(); cut < 1 || watch.Reconnects() < 1 {
		t.Errorf("the proxy cut %d connections, the watch reconnected %d times; want a cut and a reconnect", cut, watch.Reconnects())
	}
	// Folded from the middle of the turn, the conversation ends as the saved one does.
	saved, err := direct.LoadConversation(ctx, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := conv.FinalText(), saved.FinalText(); got != want || got == "" {
		t.Errorf("final text from the watch %q, saved %q", got, want)
	}

	// Replay only: from the middle of the finished turn to its end.
	watch = direct.Watch(ctx, sessionID, last-10)
	seqs = nil
	for event := range watch.Events() {
		if seqs = append(seqs, event.GetSequence()); event.GetSequence() == last {
			_ = watch.Close()
		}
	}
	if err := watch.Err(); err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, seqs, last-9)
	if seqs[len(seqs)-1] != last {
		t.Fatalf("the replay ended at %d, want %d", seqs[len(seqs)-1], last)
	}

	// A watch follows live events: a second turn's, started after the watch.
	watch = direct.Watch(ctx, sessionID, last)
	defer watch.Close()
	sent, err = direct.SendMessage(ctx, sessionID, "again")
	if err != nil {
		t.Fatal(err)
	}
	seqs, seen := nil, false
	for watch.Next() {
		event := watch.Event()
		seqs = append(seqs, event.GetSequence())
		seen = seen || event.GetTurnId() == sent.GetTurnId()
		if event.GetTurnCompleted() != nil && event.GetTurnId() == sent.GetTurnId() {
			break
		}
	}
	if err := watch.Err(); err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, seqs, last+1)
	if !seen {
		t.Fatalf("the watch saw no event of the turn sent after it started: %v", seqs)
	}

	// A watch of a session that does not exist ends with NOT_FOUND, without retrying.
	missing := direct.Watch(ctx, unknownSessionID, 0)
	if missing.Next() {
		t.Fatalf("an event of a missing session: %v", missing.Event())
	}
	if err := missing.Err(); !agentruntime.IsNotFound(err) || missing.Reconnects() != 0 {
		t.Fatalf("watch of a missing session: %v after %d reconnects, want NOT_FOUND", err, missing.Reconnects())
	}
}

func testCancel(t *testing.T, c *agentruntime.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sessionID := newSession(ctx, t, c, "demo-approvals")

	// Ending the context stops following: Err is the context's error.
	follow, stop := context.WithCancel(ctx)
	turn, err := c.RunTurn(follow, sessionID, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !turn.Next() {
		t.Fatalf("no first event: %v", turn.Err())
	}
	stop()
	for turn.Next() {
	}
	if err := turn.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancelling the context: %v, want context.Canceled", err)
	}
	// A call with an ended context fails at once, with the context's error inside.
	if _, err := c.GetSession(follow, sessionID); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetSession with a cancelled context: %v", err)
	}

	// The turn went on on the server: it waits for the Bash approval. Cancel ends it.
	session, err := c.GetSession(ctx, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	watch := c.Watch(ctx, sessionID, 0)
	defer watch.Close()
	for watch.Next() && watch.Event().GetToolCallWaiting() == nil {
	}
	if watch.Err() != nil {
		t.Fatal(watch.Err())
	}
	// The Turn no longer follows, but still names the turn to cancel.
	cancelled, err := turn.Cancel(ctx)
	if err != nil || !cancelled {
		t.Fatalf("Cancel: %v, %v (session %v)", cancelled, err, session.GetState())
	}
	for watch.Next() {
		if done := watch.Event().GetTurnCompleted(); done != nil {
			if done.GetTurn().GetOutcome() != v1.TurnOutcome_TURN_OUTCOME_CANCELLED {
				t.Fatalf("outcome %v, want CANCELLED", done.GetTurn().GetOutcome())
			}
			return
		}
	}
	t.Fatalf("the watch ended before the turn: %v", watch.Err())
}
