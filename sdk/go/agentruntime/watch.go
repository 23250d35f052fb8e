package agentruntime

import (
	"context"
	"errors"
	"iter"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// Watch follows a session's event feed: every event after a sequence, then live ones as they
// happen. When the connection drops (or the server ends the feed) it reconnects on a new
// connection and resumes after the last sequence it delivered, so the events come with no
// gap and no duplicate. Use it like a bufio.Scanner, or range over Events:
//
//	watch := client.Watch(ctx, sessionID, 0)
//	defer watch.Close()
//	for watch.Next() {
//		event := watch.Event()
//	}
//	err := watch.Err()
//
// A Watch is not safe for concurrent use; Close may be called from another goroutine.
type Watch struct {
	client    *Client
	parent    context.Context
	ctx       context.Context
	cancel    context.CancelFunc
	sessionID string
	after     int64

	stream     *connect.ServerStreamForClient[v1.StreamEventsResponse]
	opening    chan opened
	event      *v1.SessionEvent
	err        error
	failures   int
	reconnects int
}

// Watch follows the feed of a session from the event after afterSequence (0 for the first
// event of the session) until ctx ends, Close is called, or the feed fails for good: a
// non-retryable error (the session does not exist, a bad key) or more reconnect attempts in a
// row than WithReconnect allows.
func (c *Client) Watch(ctx context.Context, sessionID string, afterSequence int64) *Watch {
	inner, cancel := context.WithCancel(ctx)
	return &Watch{client: c, parent: ctx, ctx: inner, cancel: cancel, sessionID: sessionID, after: afterSequence}
}

type opened struct {
	stream *connect.ServerStreamForClient[v1.StreamEventsResponse]
	err    error
}

// connect starts opening the stream, without waiting: connect-go returns from StreamEvents
// only once the response headers came, and the server sends them with the first event.
func (w *Watch) connect() {
	if w.stream != nil || w.opening != nil {
		return
	}
	ch := make(chan opened, 1)
	w.opening = ch
	req := connect.NewRequest(&v1.StreamEventsRequest{SessionId: w.sessionID, AfterSequence: w.after})
	go func() {
		stream, err := w.client.Sessions.StreamEvents(w.ctx, req)
		ch <- opened{stream, err}
	}()
}

// await waits for the stream connect started.
func (w *Watch) await() error {
	w.connect()
	result := <-w.opening
	w.opening = nil
	if result.err != nil {
		return result.err
	}
	w.stream = result.stream
	return nil
}

// Next waits for the next event and reports whether there is one; false means the watch
// ended: see Err.
func (w *Watch) Next() bool {
	if w.err != nil {
		return false
	}
	for {
		if w.ctx.Err() != nil {
			w.fail(nil)
			return false
		}
		if w.stream == nil {
			if err := w.await(); err != nil {
				if !w.retry(err) {
					return false
				}
				continue
			}
		}
		if w.stream.Receive() {
			event := w.stream.Msg().GetEvent()
			if event == nil || event.GetSequence() <= w.after {
				continue // already delivered before a reconnect
			}
			w.after = event.GetSequence()
			w.event = event
			w.failures = 0
			return true
		}
		err := w.stream.Err()
		_ = w.stream.Close()
		w.stream = nil
		if err == nil {
			err = connect.NewError(connect.CodeUnavailable, errors.New("the server ended the event feed"))
		}
		if !w.retry(err) {
			return false
		}
	}
}

// retry decides whether to reconnect after err, and waits before doing so.
func (w *Watch) retry(err error) bool {
	if w.ctx.Err() != nil {
		w.fail(nil)
		return false
	}
	if !reconnectable(err) {
		w.fail(err)
		return false
	}
	w.failures++
	if w.failures > w.client.reconnectAttempts {
		w.fail(err)
		return false
	}
	if w.failures > 1 {
		if sleep(w.ctx, backoff(w.client.reconnectBackoff, w.failures-1)) != nil {
			w.fail(nil)
			return false
		}
	}
	w.reconnects++
	return true
}

// fail ends the watch with err, or with the context's error when err is nil.
func (w *Watch) fail(err error) {
	w.cancel()
	if w.opening != nil {
		if result := <-w.opening; result.stream != nil {
			_ = result.stream.Close()
		}
		w.opening = nil
	}
	if w.stream != nil {
		_ = w.stream.Close()
		w.stream = nil
	}
	switch {
	case err != nil:
		w.err = AsError(err)
	case w.parent.Err() != nil:
		w.err = w.parent.Err()
	default:
		w.err = errClosed
	}
}

var errClosed = errors.New("agentruntime: closed")

// Event returns the event Next found.
func (w *Watch) Event() *v1.SessionEvent { return w.event }

// Err returns why the watch ended: nil after Close, the context's error when ctx ended, or an
// *Error.
func (w *Watch) Err() error {
	if errors.Is(w.err, errClosed) {
		return nil
	}
	return w.err
}

// Sequence returns the sequence of the last event delivered (or the one the watch started
// after): resume a new watch from it.
func (w *Watch) Sequence() int64 { return w.after }

// Reconnects returns how many times the watch opened a new stream after a dropped one.
func (w *Watch) Reconnects() int { return w.reconnects }

// Close ends the watch and its connection; Next then returns false and Err nil.
func (w *Watch) Close() error {
	w.cancel()
	return nil
}

// Events returns an iterator over the events Next finds; check Err after the loop.
func (w *Watch) Events() iter.Seq[*v1.SessionEvent] {
	return func(yield func(*v1.SessionEvent) bool) {
		for w.Next() {
			if !yield(w.Event()) {
				return
			}
		}
	}
}

// reconnectable reports whether a feed that failed with err may be resumed on a new
// connection: a dropped or reset connection (connect-go reports some of these as protocol
// errors, with the network error inside), a restarting server, a reset stream; not an error
// the server sent about the request (a bad request, a missing session, a bad key).
func reconnectable(err error) bool {
	if !connect.IsWireError(err) {
		return true // it happened on this side of the wire: the connection, not the request
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeInternal, connect.CodeAborted,
		connect.CodeDeadlineExceeded, connect.CodeCanceled:
		return true
	}
	return false
}

// backoff is the wait before retry number attempt (1, 2, ...): base doubled each time, at most
// 5 seconds.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
