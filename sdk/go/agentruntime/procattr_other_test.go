//go:build !linux

package agentruntime_test

import "syscall"

func serverProcAttr() *syscall.SysProcAttr { return nil }
