package main

import (
	"context"
	"fmt"

	"github.com/druid-sidecar/druid-sidecar/agent"
	"github.com/druid-sidecar/druid-sidecar/configs"
)

func init() { register(serveCommand()) }

func serveCommand() *command {
	return &command{
		name:     "serve",
		synopsis: "run as a Druid data server: announce the segment cache, serve the inventory and take loads",
		usage:    "[--properties FILE]... [--set key=value]...",
		run:      runServe,
	}
}

// runServe runs the agent until ctx ends (SIGINT or SIGTERM in main): 0 after a clean shutdown, 1 when the
// server fails while running or shutting down, 2 when the configuration or flags are wrong.
func runServe(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("serve", "", env)
	var common commonFlags
	common.register(fs)
	if ok, code := parseArgs(env, "serve", fs, args, nil); !ok {
		return code
	}
	log, err := common.logger(env.stderr)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar serve: %v\n", err)
		return exitBadInput
	}
	cfg, code := loadConfig(env, &common, configs.RequireHost, configs.RequireSegmentCache)
	if cfg == nil {
		return code
	}
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: version})
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar serve: configuration: %v\n", err)
		return exitBadInput
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar serve: %v\n", err)
		return exitFailure
	}
	return exitOK
}
