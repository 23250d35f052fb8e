package agentruntime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// buildProgram builds the main package at pkg (relative to the repository root) and returns
// the binary's path.
func buildProgram(t *testing.T, pkg string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command(goBin, "build", "-o", bin, "./"+pkg)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", pkg, err, out)
	}
	return bin
}

// programEnv is the environment with the server's URL and key, and nothing else of ours.
func programEnv(url string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENT_RUNTIME_") && !strings.HasPrefix(kv, "SCENARIO_NAME=") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{agentruntime.EnvURL + "=" + url, agentruntime.EnvAPIKey + "=" + apiKey}, extra...)...)
}

// testExample runs examples/go/runturn (under 40 lines) and checks what it prints.
func testExample(t *testing.T, srv *testServer) {
	const pkg = "examples/go/runturn"
	source, err := os.ReadFile(filepath.Join(repoRoot(t), pkg, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(source, []byte("\n")); lines >= 40 {
		t.Errorf("%s/main.go has %d lines, want fewer than 40", pkg, lines)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildProgram(t, pkg), "hello", "from", "go")
	cmd.Env = programEnv(srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example failed: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"user: hello from go\nassistant: ", "tool Write {", "tool Bash {", "result: Created /workspace/notes/demo.md",
		"outcome: TURN_OUTCOME_COMPLETED",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the example's output lacks %q:\n%s", want, text)
		}
	}
}

// testScenarioRunner runs sdk/go/cmd/scenario as the shared harness does: through a proxy that
// it cuts after the turn's 20th and 60th events, watching the session's feed directly.
func testScenarioRunner(t *testing.T, srv *testServer, direct *agentruntime.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	proxy := startProxy(t, srv.Addr, nil)
	scenario := filepath.Join(repoRoot(t), "sdk/go/cmd/scenario/testdata/scenario.json")
	cmd := exec.CommandContext(ctx, buildProgram(t, "sdk/go/cmd/scenario"), scenario)
	cmd.Env = programEnv(proxy.URL, "SCENARIO_NAME=go-test")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cuts := make(chan int, 1)
	var lines []map[string]any
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<16), 1<<22)
	for scanner.Scan() {
		var line map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q", scanner.Text())
		}
		if line["phase"] == "start" {
			go func(sessionID string) {
				watch := direct.Watch(ctx, sessionID, 0)
				defer watch.Close()
				cut := 0
				for n := 1; watch.Next(); n++ {
					if n == 20 || n == 60 {
						cut += proxy.Cut()
					}
					if n == 60 {
						break
					}
				}
				cuts <- cut
			}(line["sessionId"].(string))
			continue
		}
		lines = append(lines, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the runner failed: %v\n%s", err, stderr.String())
	}
	// Under load the runner may be between connections at the second cut: one cut must hit.
	if n := <-cuts; n < 1 {
		t.Fatal("no connection was open through the proxy at the cuts")
	}
	if len(lines) != 5 {
		t.Fatalf("%d result lines, want 5: %v\n%s", len(lines), lines, stderr.String())
	}
	for i, line := range lines {
		if line["step"] != float64(i) {
			t.Errorf("line %d is step %v", i, line["step"])
		}
	}
	if lines[0]["name"] != "scenario-go-test" || lines[0]["profileId"] == "" || lines[1]["sessionId"] == "" {
		t.Errorf("profile and session: %v %v", lines[0], lines[1])
	}
	turn := lines[2]
	var seqs []int64
	for _, s := range turn["sequences"].([]any) {
		seqs = append(seqs, int64(s.(float64)))
	}
	checkContiguous(t, seqs, 1)
	var tools []string
	for _, name := range turn["toolNames"].([]any) {
		tools = append(tools, name.(string))
	}
	if turn["outcome"] != "COMPLETED" || turn["text"] == "" || turn["reconnects"].(float64) < 1 ||
		!slices.Contains(tools, "Write") || !slices.Contains(tools, "Bash") {
		t.Errorf("runTurn observed %v", turn)
	}
	if content, _ := lines[3]["content"].(string); !strings.Contains(content, "hello") {
		t.Errorf("readFile observed %v", lines[3])
	}
	if e := lines[4]; e["code"] != "NOT_FOUND" || e["reason"] != "SESSION_NOT_FOUND" || e["field"] != "session_id" {
		t.Errorf("getSession observed %v", e)
	}
}
