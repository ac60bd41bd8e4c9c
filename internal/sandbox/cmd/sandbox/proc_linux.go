package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childAttr puts serve in a process group of its own, so that a Ctrl-C on the terminal reaches only the driver,
// which then stops serve with SIGTERM and waits; and has the kernel send serve SIGTERM should the driver die
// without doing so.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// commandLine returns the arguments pid runs with, or nil when there is no such process (or it is a zombie, whose
// command line is empty).
func commandLine(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}
