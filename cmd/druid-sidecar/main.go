// Command druid-sidecar makes any process a first-class member of an Apache Druid cluster and audits that
// cluster's segment placement. It reads the Druid runtime.properties a Historical already has.
//
// The command line is a thin layer: every command parses its flags, loads the configuration through
// package configs and hands over to the package that owns the Druid concept.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Exit statuses shared by every command: 1 means the command ran and found a problem (a failed load, audit
// findings), 2 means it could not run as asked (bad flags, bad configuration, an unreachable service).
const (
	exitOK       = 0
	exitFailure  = 1
	exitBadInput = 2
)

// command is one sub-command of the binary.
type command struct {
	name     string
	synopsis string
	// usage is the argument summary shown after the command name in help.
	usage string
	// run executes the command with its own arguments and returns the exit status.
	run func(ctx context.Context, env *environment, args []string) int
}

// environment is what a command may touch of the outside world, so that tests can run commands in-process.
type environment struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// environ is os.Environ() in production; the configuration reads druid_* variables and ${env:...} from it.
	environ []string
}

// registered holds every command; each command's file adds itself with register in an init function, so that
// adding a command touches only its own file.
var registered []*command

func register(c *command) { registered = append(registered, c) }

// commands returns the registered commands sorted by name.
func commands() []*command {
	cs := slices.Clone(registered)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()}
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a command and returns the process exit status.
func run(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 {
		printHelp(env.stderr)
		return exitBadInput
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := findCommand(args[1]); c != nil {
				return c.run(ctx, env, []string{"-h"})
			}
			fmt.Fprintf(env.stderr, "druid-sidecar: unknown command %q\n", args[1])
			return exitBadInput
		}
		printHelp(env.stdout)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(env.stderr, "druid-sidecar: unknown command %q%s\nRun 'druid-sidecar help' for the list of commands.\n",
			name, suggestCommand(name))
		return exitBadInput
	}
	// The counts of log lines left out in the last seconds are written before the process exits.
	defer flushLoggers(env.stderr)
	return c.run(ctx, env, args[1:])
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// suggestCommand names the closest command when a user mistypes one.
func suggestCommand(name string) string {
	best, bestDist := "", 3
	for _, c := range commands() {
		if d := configs.EditDistance(strings.ToLower(name), c.name); d < bestDist {
			best, bestDist = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "druid-sidecar makes a process a member of an Apache Druid cluster and audits segment placement.\n\n")
	fmt.Fprintf(w, "Usage: druid-sidecar <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(w, "\nRun 'druid-sidecar <command> -h' for a command's flags.\n")
}
