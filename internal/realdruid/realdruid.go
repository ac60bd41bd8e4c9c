// Package realdruid runs a real Apache Druid cluster for the interop tests and talks to it as an operator or a test
// would: scripts/druid.sh starts it (a Coordinator that is also the Overlord, a Broker, an Indexer, and Java
// Historicals on request) from the jars Maven Central publishes, on the local ZooKeeper, PostgreSQL and S3 of
// scripts/services.sh; this package starts it once per test binary, ingests real segments through the Overlord and
// the Indexer, and reads and changes the cluster through the Coordinator's and the Broker's HTTP APIs.
//
// DRUID_REAL_VERSION picks the Druid release (default DefaultVersion). Like the other integration tests, these
// FAIL when the cluster cannot be started (the script's one-line reason is in the message); only -short skips.
//
// Import this package from _test.go files only.
package realdruid

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// DefaultVersion is the newest Druid release of which Maven Central, as reachable here, serves every artifact a
// cluster needs (scripts/druid.sh's default; docs/real-druid.md says why not a newer one).
const DefaultVersion = "25.0.0"

// EnvVersion names the Druid release the tests run against.
const EnvVersion = "DRUID_REAL_VERSION"

// Cluster is a running real Druid cluster: its endpoints and the settings a node joining it needs.
type Cluster struct {
	Version     string
	Coordinator string // base URL, http://127.0.0.1:port
	Overlord    string // the Coordinator's URL: it is also the Overlord
	Broker      string
	Indexer     string
	// HistoricalPortBase + N is the port of Java Historical N.
	HistoricalPortBase int

	ZK     string // host:port of ZooKeeper
	ZKBase string // druid.zk.paths.base of the cluster

	// Metadata is the metadata store: "postgresql", or "derby" for a version whose PostgreSQL extension Maven
	// Central does not serve here (then only the Coordinator's API reads it).
	Metadata string
	Database string // its PostgreSQL database
	PGURL    string // postgres:// URL of that database; "" with Derby
	JDBCURI  string // druid.metadata.storage.connector.connectURI
	PGUser   string

	// Storage is the deep storage: "s3", or "local" (StorageDir) for a version whose S3 extension Maven Central does
	// not serve here.
	Storage    string
	StorageDir string

	Bucket      string // its S3 bucket (druid.storage.bucket)
	BaseKey     string // druid.storage.baseKey
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3Region    string

	Dir string // the script's state directory for this version (logs under log/)

	repoRoot   string
	extraProps []string // what UpWith asked for: every service's, Java Historicals' too
}

var (
	upMu      sync.Mutex
	clusters  = map[string]*Cluster{} // by version and extra properties
	upErrs    = map[string]error{}
	current   = map[string]*Cluster{} // by version: the configuration it runs with now
	startedBy = map[string]bool{}     // versions this process started or restarted (and Main stops)
)

// Version is the Druid release the tests use: $DRUID_REAL_VERSION, else DefaultVersion.
func Version() string {
	if v := os.Getenv(EnvVersion); v != "" {
		return v
	}
	return DefaultVersion
}

// Up returns the cluster of Version(), starting it with `scripts/druid.sh up` on first use in this process (a
// cluster already running is reused as it is). It fails the test with the script's reason when that does not work.
func Up(t testing.TB) *Cluster {
	t.Helper()
	return UpWith(t)
}

// UpWith is Up for a cluster whose every service has extraProps (lines such as
// "druid.coordinator.loadqueuepeon.type=curator") at the end of its common.runtime.properties: the script
// restarts the services whose configuration differs from that, so tests asking for different properties take
// turns, each restarting the cluster.
func UpWith(t testing.TB, extraProps ...string) *Cluster {
	t.Helper()
	testenv.Integration(t)
	v := Version()
	key := v + "\n" + strings.Join(extraProps, "\n")
	upMu.Lock()
	defer upMu.Unlock()
	if c := clusters[key]; c != nil && c == current[v] {
		return c
	}
	if err := upErrs[key]; err != nil {
		t.Fatalf("realdruid: Druid %s did not start earlier in this run: %v", v, err)
	}
	c, err := up(v, extraProps, current[v] != nil)
	if err != nil {
		upErrs[key] = err
		t.Fatalf("realdruid: Druid %s: %v", v, err)
	}
	c.extraProps = extraProps
	clusters[key] = c
	current[v] = c
	return c
}

// up starts the cluster unless it runs already and nothing asks for other properties than it has.
func up(version string, extraProps []string, reconfigure bool) (*Cluster, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	env := "DRUID_REAL_EXTRA_PROPS=" + strings.Join(extraProps, "\n")
	if reconfigure || len(extraProps) > 0 || script(root, "status", version) != nil {
		// Bounded: the script's own waits are bounded (a cold Maven resolve takes minutes, each service seconds).
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		start := time.Now()
		out, err := scriptOutput(ctx, root, "up", version, env)
		if err != nil {
			return nil, fmt.Errorf("scripts/druid.sh up %s failed after %v: %w\n%s", version,
				time.Since(start).Round(time.Second), err, lastLines(out, 8))
		}
		startedBy[version] = true
	}
	out, err := scriptOutput(context.Background(), root, "env", version)
	if err != nil {
		return nil, fmt.Errorf("scripts/druid.sh env %s: %w\n%s", version, err, out)
	}
	return fromEnv(root, version, out)
}

// Main runs the tests, then stops the clusters this process started (one a developer started stays up), and
// exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	upMu.Lock()
	for v := range startedBy {
		if root, err := repoRoot(); err == nil {
			if err := script(root, "down", v); err != nil {
				fmt.Fprintf(os.Stderr, "realdruid: scripts/druid.sh down %s: %v\n", v, err)
			}
		}
	}
	upMu.Unlock()
	os.Exit(code)
}

func fromEnv(root, version string, env []byte) (*Cluster, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(env))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "), "=")
		if ok {
			vals[name] = strings.Trim(value, "'")
		}
	}
	c := &Cluster{
		Version:     version,
		Coordinator: vals["DRUID_REAL_COORDINATOR"],
		Overlord:    vals["DRUID_REAL_OVERLORD"],
		Broker:      vals["DRUID_REAL_BROKER"],
		Indexer:     vals["DRUID_REAL_INDEXER"],
		ZK:          vals["DRUID_REAL_ZK"],
		ZKBase:      vals["DRUID_REAL_ZK_BASE"],
		Metadata:    vals["DRUID_REAL_METADATA"],
		Storage:     vals["DRUID_REAL_STORAGE"],
		StorageDir:  vals["DRUID_REAL_STORAGE_DIR"],
		Database:    vals["DRUID_REAL_DATABASE"],
		Bucket:      vals["DRUID_REAL_BUCKET"],
		BaseKey:     vals["DRUID_REAL_BASE_KEY"],
		Dir:         vals["DRUID_REAL_DIR"],
		S3Endpoint:  vals["DRUID_REAL_S3_ENDPOINT"],
		S3AccessKey: vals["DRUID_REAL_S3_ACCESS_KEY"],
		S3SecretKey: vals["DRUID_REAL_S3_SECRET_KEY"],
		S3Region:    vals["DRUID_REAL_S3_REGION"],
		repoRoot:    root,
	}
	var err error
	if c.HistoricalPortBase, err = strconv.Atoi(vals["DRUID_REAL_HISTORICAL_PORT_BASE"]); err != nil {
		return nil, fmt.Errorf("scripts/druid.sh env printed no historical port base: %q", env)
	}
	if c.Coordinator == "" || c.Broker == "" || c.ZK == "" || c.Bucket == "" || c.Storage == "" || c.Metadata == "" {
		return nil, fmt.Errorf("scripts/druid.sh env printed an incomplete environment: %q", env)
	}
	if c.Metadata == "postgresql" {
		u, err := url.Parse(vals["DRUID_REAL_PG"])
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("scripts/druid.sh env printed no PostgreSQL URL: %q", env)
		}
		c.PGURL = u.String()
		c.PGUser = u.User.Username()
		c.JDBCURI = "jdbc:postgresql://" + u.Host + "/" + c.Database
	}
	return c, nil
}

// CommonProperties are the properties of the cluster's common.runtime.properties that a node joining it needs:
// ZooKeeper and its base path, the metadata store (PostgreSQL only: nothing of ours reads Derby), deep storage.
func (c *Cluster) CommonProperties() []string {
	props := []string{
		"druid.zk.service.host=" + c.ZK,
		"druid.zk.paths.base=" + c.ZKBase,
		"druid.selectors.indexing.serviceName=druid/overlord",
		"druid.selectors.coordinator.serviceName=druid/coordinator",
	}
	if c.Metadata == "postgresql" {
		props = append(props,
			"druid.metadata.storage.type=postgresql",
			"druid.metadata.storage.connector.connectURI="+c.JDBCURI,
			"druid.metadata.storage.connector.user="+c.PGUser)
	}
	if c.Storage == "local" {
		return append(props, "druid.storage.type=local", "druid.storage.storageDirectory="+c.StorageDir)
	}
	return append(props,
		"druid.storage.type=s3",
		"druid.storage.bucket="+c.Bucket,
		"druid.storage.baseKey="+c.BaseKey,
		"druid.s3.endpoint.url="+c.S3Endpoint,
		"druid.s3.endpoint.signingRegion="+c.S3Region,
		"druid.s3.enablePathStyleAccess=true",
		"druid.s3.protocol=http",
		"druid.s3.accessKey="+c.S3AccessKey,
		"druid.s3.secretKey="+c.S3SecretKey)
}

// Log is the path of a service's log ("coordinator", "broker", "indexer", "historical-N").
func (c *Cluster) Log(service string) string { return filepath.Join(c.Dir, "log", service+".log") }

// HistoricalOptions shape a Java Historical.
type HistoricalOptions struct {
	Tier       string   // druid.server.tier; "" is _default_tier
	Props      []string // more lines of its runtime.properties (druid.s3.endpoint.url=… to put a proxy before S3)
	FreshCache bool     // start with an empty segment cache
}

// Historical starts Java Historical n (1..99) with its own segment cache (HistoricalCache), and stops it when the
// test ends. It returns its host:port.
func (c *Cluster) Historical(t testing.TB, n int, o HistoricalOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"historical", strconv.Itoa(n), "up", c.Version, "DRUID_REAL_HISTORICAL_PROPS=" + strings.Join(o.Props, "\n"),
		"DRUID_REAL_EXTRA_PROPS=" + strings.Join(c.extraProps, "\n")}
	if o.Tier != "" {
		args = append(args, "DRUID_REAL_TIER="+o.Tier)
	}
	if o.FreshCache {
		args = append(args, "DRUID_REAL_FRESH_CACHE=1")
	}
	out, err := scriptOutput(ctx, c.repoRoot, args...)
	if err != nil {
		t.Fatalf("realdruid: starting Java Historical %d: %v\n%s", n, err, lastLines(out, 8))
	}
	t.Cleanup(func() { c.StopHistorical(t, n) })
	return "127.0.0.1:" + strconv.Itoa(c.HistoricalPortBase+n)
}

// StopHistorical stops Java Historical n (SIGTERM, then SIGKILL after 30 s); stopping one that is not running does
// nothing.
func (c *Cluster) StopHistorical(t testing.TB, n int) {
	t.Helper()
	if err := script(c.repoRoot, "historical", strconv.Itoa(n), "down", c.Version); err != nil {
		t.Errorf("realdruid: stopping Java Historical %d: %v", n, err)
	}
}

// HistoricalCache is the segment cache location of Java Historical n.
func (c *Cluster) HistoricalCache(n int) string {
	return filepath.Join(c.Dir, "var", "historical-"+strconv.Itoa(n), "segment-cache")
}

// HistoricalProperties are the properties files of Java Historical n, common first, as a node beside it (the
// companion) reads them.
func (c *Cluster) HistoricalProperties(n int) []string {
	return []string{filepath.Join(c.Dir, "conf", "_common", "common.runtime.properties"),
		filepath.Join(c.Dir, "conf", "historical-"+strconv.Itoa(n), "runtime.properties")}
}

// TailLog is the end of a service's log, for a failure message.
func (c *Cluster) TailLog(service string, bytes int) string {
	b, err := os.ReadFile(c.Log(service))
	if err != nil {
		return err.Error()
	}
	if len(b) > bytes {
		b = b[len(b)-bytes:]
	}
	return string(b)
}

// script runs scripts/druid.sh with args (a trailing NAME=value sets the environment) and returns its error.
func script(root string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := scriptOutput(ctx, root, args...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, lastLines(out, 4))
	}
	return nil
}

func scriptOutput(ctx context.Context, root string, args ...string) ([]byte, error) {
	var env []string
	for len(args) > 0 && strings.Contains(args[len(args)-1], "=") {
		env = append(env, args[len(args)-1])
		args = args[:len(args)-1]
	}
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", "druid.sh")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// repoRoot is the first directory upwards from the working directory that holds scripts/druid.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "druid.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/druid.sh in the working directory or above it")
		}
		dir = parent
	}
}
