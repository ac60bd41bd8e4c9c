// Package testenv gives integration tests isolated resources on the real local services that
// scripts/services.sh runs: a fresh ZooKeeper chroot, a fresh PostgreSQL or MariaDB database or a fresh S3 bucket
// per call, each removed again at the end of the test, and the classpath of a real Curator/Jackson/Joda Java peer.
//
// The addresses come from the DRUID_SIDECAR_TEST_* environment variables; a variable that is not set is read
// from <repository root>/.state/services.env (or $DRUID_SIDECAR_STATE_DIR/services.env), which
// `scripts/services.sh up` writes, so a plain `go test ./...` works once the services run.
//
// Policy (docs/CONTRIBUTING.md): a service that is unreachable, or whose address is unknown, FAILS the test with
// a message naming the service, its address and the fix. The only skip is under `go test -short`, which runs
// unit tests only; every helper starts with Integration(t).
//
// Import this package from _test.go files only.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The environment variables the helpers read, as printed by `scripts/services.sh env`.
const (
	EnvZK          = "DRUID_SIDECAR_TEST_ZK"            // host:port[,host:port...] of ZooKeeper
	EnvPG          = "DRUID_SIDECAR_TEST_PG"            // postgres:// URL of a superuser on an existing database
	EnvS3Endpoint  = "DRUID_SIDECAR_TEST_S3_ENDPOINT"   // http://host:port of the S3 server
	EnvS3AccessKey = "DRUID_SIDECAR_TEST_S3_ACCESS_KEY" // its root access key
	EnvS3SecretKey = "DRUID_SIDECAR_TEST_S3_SECRET_KEY" // its root secret key
	EnvS3Region    = "DRUID_SIDECAR_TEST_S3_REGION"     // its region
	EnvJavaCP      = "DRUID_SIDECAR_TEST_JAVA_CP"       // classpath of Curator, ZooKeeper, Jackson, Joda
)

// envStateDir overrides where scripts/services.sh keeps its state (and services.env), as for the script.
const envStateDir = "DRUID_SIDECAR_STATE_DIR"

// fix is the remedy every failure message ends with.
const fix = "start the local services with `scripts/services.sh up` from the repository root " +
	"(`scripts/services.sh status` shows what runs; logs are under .state/log). " +
	"Integration tests fail without them; only `go test -short` skips them"

// limits bound every call a helper makes, so a hung or absent service fails the test within seconds.
type limits struct {
	dial time.Duration // TCP connect, done first to name an unreachable service plainly
	op   time.Duration // one request: connect and session set-up, create, drop, put
}

var defaultLimits = limits{dial: 2 * time.Second, op: 10 * time.Second}

// Integration skips the test under `go test -short` and does nothing otherwise. Every helper of this package
// calls it first; call it at the top of an integration test that uses no helper.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short (it needs the services of scripts/services.sh)")
	}
}

// fail ends the test with a message naming the service, its address, what failed and the fix.
func fail(t testing.TB, service, addr, what string, err error) {
	t.Helper()
	t.Fatalf("testenv: %s at %s: %s: %v\n\tfix: %s.", service, addr, what, err, fix)
}

// dialCheck fails the test plainly when nothing accepts TCP connections at addr.
func dialCheck(t testing.TB, lim limits, service, addr string) {
	t.Helper()
	c, err := netDial(addr, lim.dial)
	if err != nil {
		fail(t, service, addr, "unreachable", err)
	}
	_ = c.Close()
}

func netDial(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, timeout)
}

// ---- settings --------------------------------------------------------------------------------------------------

type settings struct {
	file    string            // path of services.env, whether or not it exists
	fileErr error             // why it could not be read
	values  map[string]string // its assignments
}

var (
	settingsOnce sync.Once
	loaded       settings
)

func loadSettings() settings {
	settingsOnce.Do(func() {
		loaded.file, loaded.fileErr = envFilePath()
		if loaded.fileErr == nil {
			loaded.values, loaded.fileErr = readEnvFile(loaded.file)
		}
	})
	return loaded
}

// setting returns the value of an environment variable, else its assignment in services.env; a value that is
// missing from both fails the test, naming the service.
func setting(t testing.TB, service, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	s := loadSettings()
	if v := s.values[name]; v != "" {
		return v
	}
	var where string
	switch {
	case s.file == "":
		where = fmt.Sprintf("the services file cannot be found (%v)", s.fileErr)
	case errors.Is(s.fileErr, fs.ErrNotExist):
		where = s.file + " does not exist"
	case s.fileErr != nil:
		where = fmt.Sprintf("%s cannot be read (%v)", s.file, s.fileErr)
	default:
		where = s.file + " does not set it"
	}
	t.Fatalf("testenv: %s: address unknown: %s is not set and %s.\n\tfix: %s.", service, name, where, fix)
	return ""
}

// envFilePath is services.env in the state directory of scripts/services.sh: $DRUID_SIDECAR_STATE_DIR (relative
// to the repository root unless absolute), else .state in the repository root, the first directory upwards from
// the working directory that holds a go.mod.
func envFilePath() (string, error) {
	stateDir := os.Getenv(envStateDir)
	if filepath.IsAbs(stateDir) {
		return filepath.Join(stateDir, "services.env"), nil
	}
	if stateDir == "" {
		stateDir = ".state"
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, stateDir, "services.env"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// readEnvFile reads `export NAME=value` or `NAME=value` lines; values may be in single or double quotes.
// Blank lines and # comments are ignored.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseEnv(bufio.NewScanner(f))
}

func parseEnv(sc *bufio.Scanner) (map[string]string, error) {
	values := map[string]string{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("line %d: %q is not NAME=value", n, line)
		}
		if len(value) >= 2 && (value[0] == '\'' || value[0] == '"') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		values[name] = value
	}
	return values, sc.Err()
}

// ---- names -----------------------------------------------------------------------------------------------------

// uniqueName is prefix + the test's name reduced to the characters keep allows (others become sep, runs of sep
// collapse) + sep + 8 random hex digits, at most max bytes long.
func uniqueName(t testing.TB, prefix string, sep byte, lower bool, max int) string {
	suffix := fmt.Sprintf("%c%08x", sep, rand.Uint32())
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range t.Name() {
		if lower && r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', !lower && r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			if s := b.String(); len(s) > 0 && s[len(s)-1] != sep {
				b.WriteByte(sep)
			}
		}
	}
	name := strings.TrimRight(b.String(), string(sep))
	if len(name) > max-len(suffix) {
		name = strings.TrimRight(name[:max-len(suffix)], string(sep))
	}
	return name + suffix
}
