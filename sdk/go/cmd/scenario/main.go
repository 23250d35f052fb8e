// Command scenario runs the shared client scenario (test/clients/scenario.json) with the Go
// SDK, for the harness that runs every SDK against one server:
//
//	AGENT_RUNTIME_URL=http://127.0.0.1:PORT AGENT_RUNTIME_API_KEY=KEY SCENARIO_NAME=go \
//		go run ./sdk/go/cmd/scenario test/clients/scenario.json
//
// It prints one JSON object per step on stdout, in step order ({"step": i, "do": ..., what it
// observed}), and before a runTurn step a line with "phase": "start" and the session's id;
// diagnostics go to stderr. It exits 0 once every step ran, whatever the steps observed: the
// harness judges them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// step is one step of scenario.json; fields a step does not use stay empty.
type step struct {
	Do           string   `json:"do"`
	Name         string   `json:"name"`
	Model        string   `json:"model"`
	SystemPrompt string   `json:"systemPrompt"`
	Tools        []string `json:"tools"`
	Text         string   `json:"text"`
	Path         string   `json:"path"`
	SessionID    string   `json:"sessionId"`
}

// observation is one output line.
type observation map[string]any

type runner struct {
	client    *agentruntime.Client
	suffix    string
	profileID string
	sessionID string
	out       *json.Encoder
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 2 {
		return errors.New("usage: scenario <scenario.json>")
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	var scenario struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(data, &scenario); err != nil {
		return fmt.Errorf("%s: %w", os.Args[1], err)
	}
	client, err := agentruntime.New() // AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	r := &runner{client: client, suffix: os.Getenv("SCENARIO_NAME"), out: out}
	for i, raw := range scenario.Steps {
		var s step
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
		obs := r.step(ctx, i, s)
		line := observation{"step": i, "do": s.Do}
		for k, v := range obs {
			line[k] = v
		}
		if err := r.out.Encode(line); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (r *runner) step(ctx context.Context, i int, s step) observation {
	switch s.Do {
	case "createProfile":
		return r.createProfile(ctx, s)
	case "createSession":
		session, err := r.client.CreateSession(ctx, &v1.CreateSessionRequest{AgentProfileId: r.profileID})
		if err != nil {
			return errorObservation(err)
		}
		r.sessionID = session.GetId()
		return observation{"sessionId": r.sessionID}
	case "runTurn":
		return r.runTurn(ctx, i, s)
	case "readFile":
		content, err := r.client.ReadFile(ctx, r.session(s), s.Path)
		if err != nil {
			return errorObservation(err)
		}
		return observation{"content": string(content)}
	case "getSession":
		session, err := r.client.GetSession(ctx, r.session(s))
		if err != nil {
			return errorObservation(err)
		}
		return observation{"sessionId": session.GetId(), "state": strings.TrimPrefix(session.GetState().String(), "SESSION_STATE_")}
	}
	return observation{"error": map[string]any{"message": fmt.Sprintf("unknown step %q", s.Do)}}
}

// session is the step's session id, or the one createSession made.
func (r *runner) session(s step) string {
	if s.SessionID != "" {
		return s.SessionID
	}
	return r.sessionID
}

func (r *runner) createProfile(ctx context.Context, s step) observation {
	name := s.Name
	if r.suffix != "" {
		name += "-" + r.suffix
	}
	profile := &v1.AgentProfile{
		Name:         name,
		SystemPrompt: s.SystemPrompt,
		Tools:        s.Tools,
		MaxTurns:     10,
	}
	if len(profile.Tools) == 0 {
		profile.Tools = []string{"Read", "Write", "Bash", "Skill"} // the demo profile's
	}
	if s.Model == "demo" || s.Model == "" {
		profile.ModelProvider = v1.ModelProvider_MODEL_PROVIDER_DEMO
	} else {
		profile.ModelProvider, profile.Model = v1.ModelProvider_MODEL_PROVIDER_ANTHROPIC, s.Model
	}
	created, err := r.client.CreateProfile(ctx, profile)
	if err != nil {
		return errorObservation(err)
	}
	r.profileID = created.GetId()
	return observation{"profileId": created.GetId(), "name": created.GetName()}
}

func (r *runner) runTurn(ctx context.Context, i int, s step) observation {
	sessionID := r.session(s)
	if err := r.out.Encode(observation{"step": i, "do": s.Do, "phase": "start", "sessionId": sessionID}); err != nil {
		return errorObservation(err)
	}
	turn, err := r.client.RunTurn(ctx, sessionID, s.Text)
	if err != nil {
		return errorObservation(err)
	}
	defer turn.Close()
	sequences := []int64{}
	for event := range turn.Events() {
		sequences = append(sequences, event.GetSequence())
	}
	conv := turn.Conversation()
	toolNames := conv.ToolNames()
	if toolNames == nil {
		toolNames = []string{}
	}
	obs := observation{
		"turnId":     turn.ID(),
		"outcome":    strings.TrimPrefix(turn.Outcome().String(), "TURN_OUTCOME_"),
		"sequences":  sequences,
		"toolNames":  toolNames,
		"text":       conv.FinalText(),
		"reconnects": turn.Reconnects(),
	}
	fmt.Fprintf(os.Stderr, "scenario: turn %s: %d events, %d reconnects\n", turn.ID(), len(sequences), turn.Reconnects())
	if err := turn.Err(); err != nil {
		obs["error"] = errorObservation(err)["error"]
	}
	return obs
}

// errorObservation is what the SDK's typed error says: the canonical code name, the reason and
// the field (empty when the error names none).
func errorObservation(err error) observation {
	var apiErr *agentruntime.Error
	if errors.As(agentruntime.AsError(err), &apiErr) {
		return observation{
			"code": apiErr.CodeName(), "reason": apiErr.Reason, "field": apiErr.Field,
			"error": map[string]any{"message": apiErr.Error()},
		}
	}
	code := connect.CodeUnknown
	if errors.Is(err, context.Canceled) {
		code = connect.CodeCanceled
	} else if errors.Is(err, context.DeadlineExceeded) {
		code = connect.CodeDeadlineExceeded
	}
	return observation{"code": agentruntime.CodeName(code), "reason": "", "field": "", "error": map[string]any{"message": err.Error()}}
}
