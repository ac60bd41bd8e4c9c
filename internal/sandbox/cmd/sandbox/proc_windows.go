package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// childAttr leaves serve in the driver's console: Windows has no process groups to signal.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// commandLine cannot read another process's arguments here, so a stale process is never taken for the sandbox's
// and never signalled.
func commandLine(pid int) []string { return nil }

// kill is never reached here (commandLine finds no stale process); it says so rather than signal a stranger.
func kill(pid int, sig syscall.Signal) error {
	return fmt.Errorf("signalling pid %d is not supported on this platform (%s)", pid, runtime.GOOS)
}
