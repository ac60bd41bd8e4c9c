package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// version and commit are set at build time with -ldflags "-X main.version=... -X main.commit=..."; when they are
// not, the commit comes from the Go toolchain's VCS stamp.
var (
	version = "0.1.0-dev"
	commit  = ""
)

func init() {
	register(versionCommand())
	// What the node announces as its version when druid.sidecar.version is not set, as Druid 35+ announces its own.
	configs.BuildVersion = "druid-sidecar/" + version
}

func versionCommand() *command {
	return &command{
		name:     "version",
		synopsis: "print the version, commit and Go version",
		run: func(ctx context.Context, env *environment, args []string) int {
			fs := newFlagSet("version", "", env)
			if err := fs.Parse(args); err != nil {
				return exitCodeForParse(err)
			}
			fmt.Fprintf(env.stdout, "druid-sidecar %s (commit %s, %s %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		},
	}
}

// buildCommit returns the commit the binary was built from, or "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}
