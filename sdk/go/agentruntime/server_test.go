package agentruntime_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testServer is a real Agent Runtime server (`node --import tsx src/main.ts`) on a free port.
type testServer struct {
	URL  string // http://127.0.0.1:<port>
	Addr string // 127.0.0.1:<port>

	cmd     *exec.Cmd
	mu      sync.Mutex
	logs    []string
	waitErr chan error
}

// repoRoot is the repository root, found from this file's location (sdk/go/agentruntime/).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "package.json")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// startServer spawns the server with the given extra environment, waits for its "listening"
// log line, and registers a cleanup that stops it with SIGTERM and checks that it exits 0.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	root := repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "tsx")); err != nil {
		t.Fatalf("node_modules/tsx is missing: run `npm install` in %s first", root)
	}

	// Directly under the temp directory: t.TempDir() nests in a private (0700) directory that
	// the server's unprivileged sandbox user could not pass through.
	dataDir, err := os.MkdirTemp("", "agent-runtime-go-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	vars := map[string]string{
		"PORT":     "0",
		"HOST":     "127.0.0.1",
		"DATA_DIR": dataDir,
		// In-memory persistence, whatever the developer's shell says.
		"MONGODB_URI": "",
	}
	for k, v := range env {
		vars[k] = v
	}
	var environ []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, overridden := vars[name]; !overridden {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}

	cmd := exec.Command(node, "--import", "tsx", "src/main.ts")
	cmd.Dir = root
	cmd.Env = environ
	cmd.SysProcAttr = serverProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s := &testServer{cmd: cmd, waitErr: make(chan error, 1)}

	ports := make(chan int, 1)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		s.collect(stdout, ports)
	}()
	go func() {
		defer readers.Done()
		s.collect(stderr, nil)
	}()
	go func() {
		readers.Wait() // Wait must not run before the pipes are drained.
		s.waitErr <- cmd.Wait()
	}()

	select {
	case port := <-ports:
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = "http://" + s.Addr
	case err := <-s.waitErr:
		t.Fatalf("server exited before listening (%v); logs:\n%s", err, s.Logs())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("server did not log \"listening\" within 60s; logs:\n%s", s.Logs())
	}

	t.Cleanup(func() {
		code, err := s.Stop()
		if err != nil {
			t.Errorf("stop server: %v; logs:\n%s", err, s.Logs())
		} else if code != 0 {
			t.Errorf("server exited with code %d after SIGTERM, want 0; logs:\n%s", code, s.Logs())
		}
	})
	return s
}

// collect keeps every line of r and reports the port of the first "listening" line.
func (s *testServer) collect(r io.Reader, ports chan<- int) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		s.mu.Lock()
		s.logs = append(s.logs, line)
		s.mu.Unlock()
		if ports == nil {
			continue
		}
		var entry struct {
			Msg  string `json:"msg"`
			Port int    `json:"port"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" && entry.Port > 0 {
			ports <- entry.Port
			ports = nil
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Logs returns everything the server printed so far.
func (s *testServer) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logs, "\n")
}

// Stop sends SIGTERM and returns the exit code; after 20 seconds it kills the server.
func (s *testServer) Stop() (int, error) {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	var err error
	select {
	case err = <-s.waitErr:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.waitErr
		return -1, errors.New("server did not exit within 20s of SIGTERM; killed")
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}
