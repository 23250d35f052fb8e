package agentruntime_test

import "syscall"

// serverProcAttr kills the server when the test binary dies without its cleanups (a -timeout
// panic), so no server outlives its test.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
