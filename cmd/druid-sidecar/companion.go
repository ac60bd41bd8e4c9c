package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/companion"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

func init() { register(companionCommand()) }

func companionCommand() *command {
	return &command{
		name:     "companion",
		synopsis: "beside a Java Historical: fill its segment cache ahead of it and watch its cache for drift",
		usage:    "[--properties FILE]... [--once [--format table|json]]",
		run:      runCompanion,
	}
}

// runCompanion runs the companion until ctx ends (0 after a clean shutdown, 1 when it fails while running), or with
// --once checks the Historical's cache for drift a single time: 0 when there is none, 1 when there is. 2 means the
// flags are wrong, or (--once) the configuration is or the Historical could not be read. A running companion never
// exits on a configuration problem: beside a Historical it must never be what keeps it from starting (the
// Historical waits for its startup probe), so it runs without what the problem affects and reports it on /status,
// in its log and in druid_sidecar_config_problems.
func runCompanion(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("companion", "", env)
	var common commonFlags
	common.register(fs)
	once := fs.Bool("once", false, "check the Historical's cache, info_dir and inventory once, print the drift found and exit (1 when there is drift)")
	format := fs.String("format", "table", "output format of --once: table or json")
	if ok, code := parseArgs(env, "companion", fs, args, format, "table", "json"); !ok {
		return code
	}
	log, err := common.logger(env.stderr)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar companion: %v\n", err)
		return exitBadInput
	}
	require := []configs.Requirement{configs.RequireHost, configs.RequireSegmentCache}
	if !*once {
		c, err := companion.New(loadConfigKeepGoing(env, &common, require...), companion.Options{Logger: log, Version: version})
		if err == nil {
			err = c.Run(ctx)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar companion: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	cfg, code := loadConfig(env, &common, require...)
	if cfg == nil {
		return code
	}
	c, err := companion.New(cfg, companion.Options{Logger: log, Version: version})
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar companion: %v\n", err)
		return exitBadInput
	}
	findings, err := c.Once(ctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar companion: %s\n", safetext.Printable(err.Error()))
		return exitBadInput
	}
	if *format == "json" {
		if findings == nil {
			findings = []audit.Finding{}
		}
		out, err := json.MarshalIndent(findings, "", "  ")
		if err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar companion: %v\n", err)
			return exitBadInput
		}
		env.stdout.Write(append(out, '\n'))
	} else {
		writeDriftTable(env.stdout, cfg.Node.HostAndPortToUse(), findings)
	}
	if len(findings) > 0 {
		return exitFailure
	}
	return exitOK
}

// writeDriftTable writes the drift findings; segment ids come from the Historical's files and inventory, so they
// are made printable.
func writeDriftTable(w io.Writer, server string, findings []audit.Finding) {
	server = safetext.Printable(server)
	if len(findings) == 0 {
		fmt.Fprintf(w, "No drift: the cache, info_dir and inventory of %s agree.\n", server)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEGMENT\tPROBLEM")
	for _, f := range findings {
		fmt.Fprintf(tw, "%s\t%s\n", safetext.Printable(f.SegmentID), safetext.Printable(f.Detail))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d finding(s) on %s.\n", len(findings), server)
}
