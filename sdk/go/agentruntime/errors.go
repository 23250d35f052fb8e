package agentruntime

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// Error is an error returned by the server (or by the transport on the way to it), with the
// details the server attaches decoded into fields. Every call through a Client returns one:
//
//	var apiErr *agentruntime.Error
//	if errors.As(err, &apiErr) && apiErr.Reason == "SESSION_NOT_FOUND" { ... }
//
// It unwraps to the *connect.Error it came from, so connect.CodeOf(err) works too.
type Error struct {
	// Code is the RPC status code, for example connect.CodeNotFound.
	Code connect.Code
	// Message is the server's message, without the code.
	Message string
	// Reason is the stable UPPER_SNAKE reason, for example `SESSION_NOT_FOUND` or
	// `INVALID_FIELD`; empty when the error did not come from the server (a network error).
	Reason string
	// Domain is `agentruntime.v1` for the server's errors.
	Domain string
	// Field is the request field at fault (`profile.name`, `session_id`), when there is one.
	Field string
	// Metadata holds the reason's details (for example `id` for a NOT_FOUND).
	Metadata map[string]string
	// Violations lists every bad field and why, for INVALID_ARGUMENT.
	Violations []FieldViolation

	err *connect.Error
}

// FieldViolation is one bad request field (google.rpc.BadRequest).
type FieldViolation struct {
	Field       string
	Description string
}

// Error returns "<code>: <message>" with the reason, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.CodeName())
	if e.Reason != "" {
		b.WriteString(" (" + e.Reason + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the underlying *connect.Error.
func (e *Error) Unwrap() error {
	if e.err == nil {
		return nil
	}
	return e.err
}

// CodeName is the canonical gRPC name of the code in upper snake case, for example
// `NOT_FOUND`.
func (e *Error) CodeName() string {
	return CodeName(e.Code)
}

// CodeName is the canonical gRPC name of code in upper snake case: `NOT_FOUND`, `CANCELLED`
// (connect-go spells it `canceled`), `OK` for 0.
func CodeName(code connect.Code) string {
	switch code {
	case 0:
		return "OK"
	case connect.CodeCanceled:
		return "CANCELLED"
	}
	return strings.ToUpper(code.String())
}

// Retryable reports whether trying the same call again may succeed.
func (e *Error) Retryable() bool {
	switch e.Code {
	case connect.CodeUnavailable, connect.CodeResourceExhausted, connect.CodeAborted:
		return true
	}
	return false
}

// AsError converts err into an *Error: the same error when it is one already, a decoded
// *connect.Error, or (for anything else, such as a network error) an *Error with code
// Unknown. It returns nil for nil. Context errors stay as they are so errors.Is(err,
// context.Canceled) keeps working either way.
func AsError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return decodeError(ce)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return decodeError(connect.NewError(connect.CodeUnknown, err))
}

func decodeError(ce *connect.Error) *Error {
	e := &Error{Code: ce.Code(), Message: ce.Message(), err: ce}
	var info *errdetails.ErrorInfo
	var detail *v1.ErrorDetail
	for _, d := range ce.Details() {
		value, err := d.Value()
		if err != nil {
			continue
		}
		switch x := value.(type) {
		case *errdetails.ErrorInfo:
			info = x
		case *v1.ErrorDetail:
			detail = x
		case *errdetails.BadRequest:
			for _, v := range x.GetFieldViolations() {
				e.Violations = append(e.Violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	switch {
	case detail != nil:
		e.Reason, e.Domain, e.Field = detail.GetReason(), detail.GetDomain(), detail.GetField()
		e.Metadata = detail.GetMetadata()
	case info != nil:
		e.Reason, e.Domain = info.GetReason(), info.GetDomain()
		e.Metadata = info.GetMetadata()
		e.Field = info.GetMetadata()["field"]
	}
	if info != nil && len(e.Metadata) == 0 {
		e.Metadata = info.GetMetadata()
	}
	if e.Field == "" && len(e.Violations) == 1 {
		e.Field = e.Violations[0].Field
	}
	if e.Metadata == nil {
		e.Metadata = map[string]string{}
	}
	return e
}

// CodeOf returns the status code of err: its *Error's or *connect.Error's code, Canceled or
// DeadlineExceeded for context errors, Unknown for other errors and 0 for nil.
func CodeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return connect.CodeOf(err)
}

// ReasonOf returns the reason of err (`SESSION_NOT_FOUND`), or "" when it has none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(AsError(err), &e) {
		return e.Reason
	}
	return ""
}

// IsNotFound reports whether err is a NOT_FOUND error (an unknown id, or another tenant's).
func IsNotFound(err error) bool { return CodeOf(err) == connect.CodeNotFound }

// IsInvalidArgument reports whether err is an INVALID_ARGUMENT error (see Error.Field).
func IsInvalidArgument(err error) bool { return CodeOf(err) == connect.CodeInvalidArgument }

// IsAlreadyExists reports whether err is an ALREADY_EXISTS error.
func IsAlreadyExists(err error) bool { return CodeOf(err) == connect.CodeAlreadyExists }

// IsFailedPrecondition reports whether err is a FAILED_PRECONDITION error (for example a
// tool call answered twice, or a busy session).
func IsFailedPrecondition(err error) bool { return CodeOf(err) == connect.CodeFailedPrecondition }

// IsUnauthenticated reports whether err is an UNAUTHENTICATED error (a missing or wrong key).
func IsUnauthenticated(err error) bool { return CodeOf(err) == connect.CodeUnauthenticated }

// IsPermissionDenied reports whether err is a PERMISSION_DENIED error.
func IsPermissionDenied(err error) bool { return CodeOf(err) == connect.CodePermissionDenied }

// IsResourceExhausted reports whether err is a RESOURCE_EXHAUSTED error (a limit or quota).
func IsResourceExhausted(err error) bool { return CodeOf(err) == connect.CodeResourceExhausted }

// IsUnavailable reports whether err is an UNAVAILABLE error (the server or network is down).
func IsUnavailable(err error) bool { return CodeOf(err) == connect.CodeUnavailable }

// errorInterceptor turns every unary error into an *Error, and retries calls without side
// effects (and idempotent ones) when the server was unavailable, for example after a dropped
// connection.
type errorInterceptor struct {
	attempts int
	backoff  time.Duration
}

func (i errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		attempts := 1
		if level := req.Spec().IdempotencyLevel; level == connect.IdempotencyNoSideEffects ||
			level == connect.IdempotencyIdempotent {
			attempts = i.attempts
		}
		for attempt := 1; ; attempt++ {
			res, err := next(ctx, req)
			if err == nil {
				return res, nil
			}
			if attempt >= attempts || connect.CodeOf(err) != connect.CodeUnavailable || ctx.Err() != nil {
				return nil, AsError(err)
			}
			if sleep(ctx, backoff(i.backoff, attempt)) != nil {
				return nil, AsError(err)
			}
		}
	}
}

func (errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
