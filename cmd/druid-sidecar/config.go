package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

func init() { register(configCommand()) }

func configCommand() *command {
	return &command{
		name:     "config",
		synopsis: "print the resolved configuration with the source of every value, or the table of known keys",
		usage:    "print [--format properties|json] | keys",
		run:      runConfig,
	}
}

func runConfig(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintf(env.stderr, "Usage: druid-sidecar config print [--properties FILE]... [--set key=value]... [--format properties|json]\n"+
			"       druid-sidecar config keys    (the keys druid-sidecar reads, with Druid's defaults, as a Markdown table)\n")
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	switch args[0] {
	case "print":
		return runConfigPrint(env, args[1:])
	case "keys":
		fs := newFlagSet("config keys", "", env)
		if err := fs.Parse(args[1:]); err != nil {
			return exitCodeForParse(err)
		}
		io.WriteString(env.stdout, configs.MarkdownTable())
		return exitOK
	default:
		fmt.Fprintf(env.stderr, "druid-sidecar config: unknown sub-command %q: expected print or keys\n", args[0])
		return exitBadInput
	}
}

func runConfigPrint(env *environment, args []string) int {
	fs := newFlagSet("config print", "", env)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "properties", "output format: properties or json")
	if ok, code := parseArgs(env, "config print", fs, args, format, "properties", "json"); !ok {
		return code
	}
	cfg, code := loadConfig(env, &common)
	if cfg == nil {
		return code
	}
	entries := cfg.Entries()
	switch *format {
	case "properties":
		io.WriteString(env.stdout, configs.FormatProperties(entries))
	case "json":
		out, err := configs.FormatJSON(entries)
		if err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar config print: %v\n", err)
			return exitFailure
		}
		env.stdout.Write(out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			io.WriteString(env.stdout, "\n")
		}
	}
	return exitOK
}

// loadConfig resolves the configuration from the command's flags and the environment. On failure it prints every
// problem, one line each, and returns a nil config with exit status 2.
func loadConfig(env *environment, common *commonFlags, require ...configs.Requirement) (*configs.Config, int) {
	cfg, err := loadWarn(env, common, false, require)
	if err != nil {
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintf(env.stderr, "druid-sidecar: configuration: %s\n", line)
		}
		return nil, exitBadInput
	}
	return cfg, exitOK
}

// loadConfigKeepGoing is loadConfig for a process that must not stop on a configuration problem (the companion):
// the Config comes back whatever its problems, which cfg.Problems lists for the caller to report.
func loadConfigKeepGoing(env *environment, common *commonFlags, require ...configs.Requirement) *configs.Config {
	cfg, _ := loadWarn(env, common, true, require)
	return cfg
}

// loadWarn loads the configuration and prints its warnings.
func loadWarn(env *environment, common *commonFlags, keepGoing bool, require []configs.Requirement) (*configs.Config, error) {
	cfg, err := configs.Load(configs.LoadOptions{
		PropertiesFiles: common.properties,
		Environ:         env.environ,
		Sets:            common.sets,
		Require:         require,
		KeepGoing:       keepGoing,
	})
	if cfg != nil {
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(env.stderr, "druid-sidecar: configuration warning: %s\n", w)
		}
	}
	return cfg, err
}
