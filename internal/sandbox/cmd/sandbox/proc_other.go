//go:build unix && !linux

package main

import "syscall"

// childAttr puts serve in a process group of its own, so that a Ctrl-C on the terminal reaches only the driver,
// which then stops serve with SIGTERM and waits.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// commandLine cannot read another process's arguments here, so a stale process is never taken for the sandbox's
// and never signalled.
func commandLine(pid int) []string { return nil }
