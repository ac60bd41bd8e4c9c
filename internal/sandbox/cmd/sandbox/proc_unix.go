//go:build unix

package main

import "syscall"

// kill sends sig to the process pid.
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
