// Command sandbox runs `druid-sidecar serve` as the only Historical of a Druid cluster stand-in on loopback, and
// shows it doing its main job: ZooKeeper, PostgreSQL and S3 are the local services; the segments are seeded in S3
// as Druid's pusher lays them out and published in the metadata store with Druid's own DDL; an example segment
// server is the upstream; the Coordinator and a Broker are played with Druid's client behaviour (internal/druidpeer)
// until every segment is loaded and in the Broker's view. Then it prints how to look, and runs until Ctrl-C.
//
// `make sandbox` (scripts/sandbox.sh) starts the services, builds bin/druid-sidecar and runs this command.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattn/go-isatty"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The sandbox's datasets: two dataSources, one tombstone.
var datasets = []sandbox.Dataset{
	{DataSource: "wikipedia", Days: 3, Partitions: 2},
	{DataSource: "koalas", Days: 2, Partitions: 1, TombstoneDays: []int{2}},
}

// DefaultPort is the sandbox Historical's port: a Historical's 8083 moved into the range the local services use,
// below Linux's ephemeral ports, so that it stays the same from run to run and the printed commands keep working.
const DefaultPort = 28083

// options are the flags of the command.
type options struct {
	stateDir    string // where the configuration, cache, logs and pid files go
	bin         string // the druid-sidecar binary
	zk          string // ZooKeeper servers, host:port[,host:port…]
	zkChroot    string // the sandbox's chroot in ZooKeeper; "" for none
	pgURL       string // postgres:// URL of a user who may create databases
	database    string // the metadata store's database, created when missing
	s3Endpoint  string
	s3Region    string
	s3AccessKey string
	s3SecretKey string
	bucket      string // deep storage bucket, created when missing
	baseKey     string // druid.storage.baseKey
	port        int    // the Historical's port; 0 picks a free one
	columnBytes int    // column data per segment
	exit        bool   // exit once everything is loaded and the commands are printed
	timeout     time.Duration

	// afterLoad, when set, runs after the commands are printed, while serve still runs (tests look with it).
	afterLoad func(ctx context.Context, s *session) error
}

// session is what one run set up.
type session struct {
	serveURL  string
	propsPath string
	seeded    []*segments.DataSegment
	result    *druidpeer.SandboxResult
	query     queryAnswer
}

type queryAnswer struct {
	status int
	body   string
	err    error
}

func main() {
	var o options
	fs := flag.NewFlagSet("sandbox", flag.ExitOnError)
	fs.StringVar(&o.stateDir, "state-dir", ".state/sandbox", "directory of the configuration, segment cache, logs and pid files")
	fs.StringVar(&o.bin, "bin", "bin/druid-sidecar", "the druid-sidecar binary to run")
	fs.StringVar(&o.zk, "zk", os.Getenv("DRUID_SIDECAR_TEST_ZK"), "ZooKeeper servers, host:port[,host:port…]")
	fs.StringVar(&o.zkChroot, "zk-chroot", "/druid-sidecar-sandbox", "the sandbox cluster's ZooKeeper chroot")
	fs.StringVar(&o.pgURL, "pg", os.Getenv("DRUID_SIDECAR_TEST_PG"), "postgres:// URL of a PostgreSQL user who may create databases")
	fs.StringVar(&o.database, "database", "sandbox", "metadata store database, created when missing")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", os.Getenv("DRUID_SIDECAR_TEST_S3_ENDPOINT"), "S3 endpoint URL")
	fs.StringVar(&o.s3Region, "s3-region", cmpOr(os.Getenv("DRUID_SIDECAR_TEST_S3_REGION"), "us-east-1"), "S3 region")
	fs.StringVar(&o.s3AccessKey, "s3-access-key", os.Getenv("DRUID_SIDECAR_TEST_S3_ACCESS_KEY"), "S3 access key")
	fs.StringVar(&o.s3SecretKey, "s3-secret-key", os.Getenv("DRUID_SIDECAR_TEST_S3_SECRET_KEY"), "S3 secret key")
	fs.StringVar(&o.bucket, "bucket", "sandbox-segments", "deep storage bucket, created when missing")
	fs.StringVar(&o.baseKey, "base-key", "druid/segments", "druid.storage.baseKey")
	fs.IntVar(&o.port, "port", DefaultPort, "the Historical's HTTP port on 127.0.0.1; 0 picks a free one")
	fs.IntVar(&o.columnBytes, "column-bytes", 4<<20, "bytes of column data per segment")
	fs.BoolVar(&o.exit, "exit", os.Getenv("SANDBOX_EXIT") == "1", "stop serve and exit once everything is loaded (also SANDBOX_EXIT=1)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long startup and loading may take")
	fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// run sets the sandbox up, loads every segment, prints how to look, and then waits for ctx to end (or returns at
// once with o.exit). serve is stopped with SIGTERM before run returns. An end of ctx is no error.
func run(ctx context.Context, o options, stdout io.Writer) error {
	err := runSandbox(ctx, o, stdout)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stdout, "sandbox: interrupted, stopped")
		return nil
	}
	return err
}

func runSandbox(ctx context.Context, o options, stdout io.Writer) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--zk (DRUID_SIDECAR_TEST_ZK)", o.zk}, {"--pg (DRUID_SIDECAR_TEST_PG)", o.pgURL},
		{"--s3-endpoint (DRUID_SIDECAR_TEST_S3_ENDPOINT)", o.s3Endpoint}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no address for %s: start the local services with `bash scripts/services.sh up` and pass "+
			"their addresses (`scripts/services.sh env` prints them), or run `make sandbox`", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("the druid-sidecar binary: %w (build it with `make build`, or pass --bin)", err)
	}
	stateDir, err := filepath.Abs(o.stateDir)
	if err != nil {
		return err
	}
	cacheDir := filepath.Join(stateDir, "cache")
	confDir := filepath.Join(stateDir, "conf")
	for _, d := range []string{stateDir, cacheDir, confDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating the sandbox's directory: %w", err)
		}
	}
	p := &printer{w: stdout, cwd: workingDir()}
	propsPath := filepath.Join(confDir, "runtime.properties")
	servePID := filepath.Join(stateDir, "serve.pid")
	upstreamPID := filepath.Join(stateDir, "upstream.pid")
	upstreamBin := filepath.Join(stateDir, "bin", "upstream")

	// A serve or upstream still running from an earlier sandbox (its driver killed, or still shutting down) holds
	// the port and the cache: stop it first. The pid files say which processes those are; their command lines
	// confirm it.
	if err := stopStale(servePID, propsPath, "serve", p); err != nil {
		return err
	}
	if err := stopStale(upstreamPID, upstreamBin, "upstream", p); err != nil {
		return err
	}

	port, err := choosePort(o.port)
	if err != nil {
		return err
	}

	// The timeout bounds startup and loading; waiting for Ctrl-C afterwards watches sigCtx alone.
	sigCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	deadline := func(err error, what string) error {
		if errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) == context.DeadlineExceeded {
			return fmt.Errorf("%s took longer than --timeout %v: %w", what, o.timeout, err)
		}
		return err
	}

	// The example upstream, built from examples/upstream and run on a free port of its own.
	if err := buildUpstream(ctx, upstreamBin); err != nil {
		return deadline(err, "building the example upstream")
	}
	upPort, err := choosePort(0)
	if err != nil {
		return err
	}
	upstreamURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(upPort))
	upLog := filepath.Join(stateDir, "upstream.log")
	up, err := startChild("upstream", upstreamBin, []string{"-listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(upPort))}, upLog, upstreamPID)
	if err != nil {
		return err
	}
	defer func() {
		if err := up.stop(); err != nil {
			fmt.Fprintf(stdout, "sandbox: %v\n", err)
		}
	}()
	if err := up.waitReady(ctx, upstreamURL+"/status/health"); err != nil {
		return deadline(err, "the example upstream's startup")
	}

	// The Historical's configuration; every other step reads it back through configs.Load, as serve does.
	dbURL, err := sandbox.EnsureDatabase(ctx, o.pgURL, o.database)
	if err != nil {
		return fmt.Errorf("the metadata store: %w", err)
	}
	props, err := properties(o, port, cacheDir, dbURL, upstreamURL)
	if err != nil {
		return err
	}
	// 0600: the file holds the local S3 server's keys.
	if err := os.WriteFile(propsPath, props, 0o600); err != nil {
		return fmt.Errorf("writing the Historical's configuration: %w", err)
	}
	cfg, err := loadProps(propsPath)
	if err != nil {
		return err
	}
	p.step("config", "%s", p.rel(propsPath))

	// Seeding: deep storage, then the metadata store that publishes what deep storage holds.
	s3c := sandbox.S3Client(cfg.S3.EndpointURL, o.s3Region, o.s3AccessKey, o.s3SecretKey)
	if err := sandbox.EnsureBucket(ctx, s3c, cfg.Storage.Bucket); err != nil {
		return deadline(err, "seeding S3")
	}
	seeded, err := sandbox.PutSegments(ctx, s3c, cfg.Storage.Bucket, cfg.Storage.BaseKey, datasets, o.columnBytes)
	if err != nil {
		return deadline(err, "seeding S3")
	}
	tombstones := 0
	for _, s := range seeded {
		if s.IsTombstone() {
			tombstones++
		}
	}
	p.step("deep storage", "%d index.zip in s3://%s/%s (%s), and %d tombstone: %s", len(seeded)-tombstones,
		cfg.Storage.Bucket, cfg.Storage.BaseKey, cfg.S3.EndpointURL, tombstones, describeDatasets())
	if err := seedMetadata(ctx, dbURL, cfg, seeded); err != nil {
		return deadline(err, "seeding the metadata store")
	}
	p.step("metadata", "%s and %s in database %s: %d used segments; rules of %s: loadForever, 1 replica in %s",
		cfg.Metadata.Tables.Segments(), cfg.Metadata.Tables.Rules(), o.database, len(seeded), metadata.DefaultRulesDataSource,
		metadata.DefaultTier)
	p.step("upstream", "examples/upstream on %s (pid %d, log %s)", upstreamURL, up.pid, p.rel(upLog))

	// serve, as a child process of its own.
	serveLog := filepath.Join(stateDir, "serve.log")
	child, err := startChild("serve", o.bin, []string{"serve", "--properties", propsPath}, serveLog, servePID)
	if err != nil {
		return err
	}
	defer func() {
		if err := child.stop(); err != nil {
			fmt.Fprintf(stdout, "sandbox: %v\n", err)
		}
	}()
	serveURL := "http://" + net.JoinHostPort(cfg.Node.Host, strconv.Itoa(cfg.Node.PortToUse()))
	p.step("serve", "%s serve --properties %s (pid %d, log %s)", p.rel(o.bin), p.rel(propsPath), child.pid, p.rel(serveLog))

	started := time.Now()
	if err := child.waitReady(ctx, serveURL+"/druid/historical/v1/readiness"); err != nil {
		return deadline(err, "serve's startup")
	}
	node, err := waitDiscovered(ctx, cfg, child)
	if err != nil {
		return deadline(err, "serve's announcement")
	}
	p.step("ready", "readiness 200 and %s/HISTORICAL/%s announced, %.1fs after start", cfg.ZK.Paths.InternalDiscovery,
		node.Name, time.Since(started).Seconds())

	// The Coordinator and the Broker; the stand-in leads as a Coordinator-Overlord, so `cluster` and every reader of
	// the latches name it.
	leader, err := druidpeer.StartSandboxLeader(ctx, cfg)
	if err != nil {
		return deadline(err, "taking the Coordinator and Overlord leader latches")
	}
	defer leader.Close()
	p.step("leader", "the Coordinator-Overlord stand-in leads from %s (%s/_COORDINATOR and %s/_OVERLORD)", leader.URL,
		cfg.ZK.Paths.Coordinator, cfg.ZK.Paths.Overlord)
	store, err := metadata.Open(ctx, cfg)
	if err != nil {
		return deadline(err, "opening the metadata store")
	}
	defer store.Close(context.WithoutCancel(ctx))
	bar := newProgress(stdout)
	coord := &druidpeer.SandboxCoordinator{
		Store:     store,
		ServerURL: "http://" + net.JoinHostPort(node.Host, strconv.Itoa(node.PlaintextPort)),
		Progress:  bar.update,
		// A sandbox retries a failed batch after seconds, not the Coordinator's minute.
		RepeatDelay: 2 * time.Second,
	}
	if node.DataNode != nil {
		coord.Tier = node.DataNode.Tier
	}
	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	go func() {
		select {
		case <-child.exited:
			stopLoad(fmt.Errorf("serve exited (%v); see %s", child.exitErr, serveLog))
		case <-loadCtx.Done():
		}
	}()
	res, err := coord.Run(loadCtx)
	bar.finish()
	if err != nil {
		return deadline(err, "loading")
	}
	pr := res.Progress
	p.step("loaded", "%d segments wanted by the rules (%d already served from the cache, %d loaded, %d dropped), "+
		"all in the Broker's view; batch size %d (loadCapabilities)", pr.Wanted, pr.AlreadyServed, pr.Loaded, pr.Dropped, res.BatchSize)

	s := &session{serveURL: serveURL, propsPath: propsPath, seeded: seeded, result: res}
	s.query = timeBoundary(ctx, serveURL)
	switch q := s.query; {
	case q.err != nil:
		p.step("query", "timeBoundary on wikipedia through serve: %v", q.err)
	default:
		p.step("query", "timeBoundary on wikipedia through serve: HTTP %d %s", q.status, q.body)
	}

	fmt.Fprintf(stdout, "\nLook around (serve on %s, Ctrl-C stops the sandbox):\n", serveURL)
	for _, c := range []string{
		p.rel(o.bin) + " cluster --properties " + p.rel(propsPath),
		"curl -s " + serveURL + "/metrics | grep druid_sidecar",
		"curl -s -XPOST -H 'Content-Type: application/json' " + serveURL + `/druid/v2/ -d '{"queryType":"timeBoundary","dataSource":"wikipedia"}'`,
		// The inventory needs a timeout, as Druid's does (400 without one); Brokers long-poll with PT4M.
		"curl -s '" + serveURL + "/druid-internal/v1/segments?counter=-1&timeout=1000'",
		"tail -f " + p.rel(serveLog),
	} {
		fmt.Fprintf(stdout, "  %s\n", c)
	}

	if o.afterLoad != nil {
		if err := o.afterLoad(ctx, s); err != nil {
			return err
		}
	}
	if o.exit {
		return nil
	}
	// Until Ctrl-C or SIGTERM.
	select {
	case <-child.exited:
		return fmt.Errorf("serve exited (%v); see %s", child.exitErr, serveLog)
	case <-sigCtx.Done():
	}
	fmt.Fprintln(stdout, "\nsandbox: stopping serve")
	return nil
}

func workingDir() string {
	wd, _ := os.Getwd()
	return wd
}

func describeDatasets() string {
	var parts []string
	for _, d := range datasets {
		s := fmt.Sprintf("%s (%d days × %d", d.DataSource, d.Days, d.Partitions)
		if n := len(d.TombstoneDays); n > 0 {
			s += fmt.Sprintf(", %d tombstone", n)
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}

// choosePort returns port when 127.0.0.1 can listen on it, a free port for 0.
func choosePort(port int) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("port %d on 127.0.0.1 is taken by another program: pass --port with another port, or --port 0 for a free one: %w", port, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// properties is the sandbox Historical's runtime.properties.
func properties(o options, port int, cacheDir, dbURL, upstreamURL string) ([]byte, error) {
	db, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	zk := o.zk
	if o.zkChroot != "" {
		zk += "/" + strings.Trim(o.zkChroot, "/")
	}
	var b bytes.Buffer
	b.WriteString("# The sandbox Historical, written by the sandbox (make sandbox) on every run: druid-sidecar serve on loopback,\n" +
		"# in a cluster whose ZooKeeper, metadata store and S3 deep storage are the local services.\n")
	set := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, propertyValue(v)) }
	set("druid.service", "druid/historical")
	set("druid.host", "127.0.0.1")
	set("druid.plaintextPort", strconv.Itoa(port))
	// Listen on 127.0.0.1 only: the sandbox stays on loopback.
	set("druid.bindOnHost", "true")
	set("druid.zk.service.host", zk)
	set("druid.zk.paths.base", "/druid")
	set("druid.server.tier", metadata.DefaultTier)
	set("druid.segmentCache.locations", `[{"path":"`+jsonEscape(cacheDir)+`","maxSize":"10g"}]`)
	set("druid.segmentCache.numLoadingThreads", "4")
	set("druid.storage.type", "s3")
	set("druid.storage.bucket", o.bucket)
	set("druid.storage.baseKey", o.baseKey)
	b.WriteString("# The local S3 server's keys (scripts/services.sh), hence the file's mode 0600.\n")
	set("druid.s3.accessKey", o.s3AccessKey)
	set("druid.s3.secretKey", o.s3SecretKey)
	set("druid.s3.endpoint.url", o.s3Endpoint)
	set("druid.s3.endpoint.signingRegion", o.s3Region)
	set("druid.s3.enablePathStyleAccess", "true")
	set("druid.metadata.storage.type", "postgresql")
	set("druid.metadata.storage.connector.connectURI", "jdbc:postgresql://"+db.Host+db.Path)
	set("druid.metadata.storage.connector.user", db.User.Username())
	if pw, ok := db.User.Password(); ok {
		set("druid.metadata.storage.connector.password", pw)
	}
	set("druid.sidecar.upstream", upstreamURL)
	return b.Bytes(), nil
}

// loadProps reads the sandbox's configuration as serve reads it, with no environment (serve gets none of the
// variables that configure Druid).
func loadProps(path string) (*configs.Config, error) {
	cfg, err := configs.Load(configs.LoadOptions{PropertiesFiles: []string{path}, Environ: []string{},
		Require: []configs.Requirement{configs.RequireHost, configs.RequireSegmentCache}})
	if err != nil {
		return nil, fmt.Errorf("the configuration the sandbox wrote to %s: %w", path, err)
	}
	return cfg, nil
}

// propertyValue escapes a value for a .properties file: backslashes, line breaks and a leading blank.
func propertyValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
	v = r.Replace(v)
	if strings.HasPrefix(v, " ") || strings.HasPrefix(v, "\t") {
		v = `\` + v
	}
	return v
}

func jsonEscape(s string) string {
	q := jackson.AppendJSONString(nil, s)
	return string(q[1 : len(q)-1])
}

// seedMetadata writes the seeded segments and the default rules to the metadata store of cfg.
func seedMetadata(ctx context.Context, dbURL string, cfg *configs.Config, seeded []*segments.DataSegment) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connecting to the metadata store %s: %w", cfg.Metadata.ConnectURI, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := sandbox.SeedMetadata(ctx, conn, cfg.Metadata.Tables, seeded, sandbox.OneReplicaDefaultRules()); err != nil {
		return fmt.Errorf("the metadata store %s: %w", cfg.Metadata.ConnectURI, err)
	}
	return nil
}

// ---- the serve child process --------------------------------------------------------------------------------------

// child is a process the sandbox started: serve or the example upstream.
type child struct {
	name    string
	pid     int
	proc    *os.Process
	pidFile string
	exited  chan struct{} // closed when the process has exited; exitErr is then set
	exitErr error
}

// startChild starts bin with args, its output in logPath and its pid in pidFile.
func startChild(name, bin string, args []string, logPath, pidFile string) (*child, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnviron(os.Environ())
	cmd.SysProcAttr = childAttr()
	c := &child{name: name, pidFile: pidFile, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The kernel's parent-death signal follows the thread that started the child, so that thread stays
		// locked to this goroutine (and alive) for as long as the child runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logFile.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.exitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	c.pid, c.proc = cmd.Process.Pid, cmd.Process
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(c.pid)+"\n"), 0o644); err != nil {
		_ = c.proc.Kill()
		return nil, fmt.Errorf("writing %s: %w", pidFile, err)
	}
	return c, nil
}

// buildUpstream builds examples/upstream into bin with the go command, from the module's root, unless bin is
// newer than every file of examples/upstream (the go command would only link it again, which takes seconds).
func buildUpstream(ctx context.Context, bin string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if newerThanSources(bin, filepath.Join(root, "examples", "upstream")) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/upstream")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/upstream in %s: %w\n%s", root, err, out)
	}
	return nil
}

// newerThanSources reports whether bin exists and was written after every file in dir was last changed. The
// example upstream uses the standard library only, so its directory is all its sources.
func newerThanSources(bin, dir string) bool {
	bi, err := os.Stat(bin)
	if err != nil {
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(bi.ModTime()) {
			return false
		}
	}
	return true
}

// moduleRoot is the first directory upwards from the working directory that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it: run the sandbox from the druid-sidecar repository")
		}
		dir = parent
	}
}

// childEnviron is the environment without the variables the Druid Docker image convention reads (druid_*,
// ZOOKEEPER), so that the sandbox's file is serve's whole configuration.
func childEnviron(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "druid_") || strings.HasPrefix(kv, "ZOOKEEPER=")
	})
}

// stopGrace is how long serve may take to shut down after SIGTERM: its own shutdown timeout (30 s) and some.
const stopGrace = 40 * time.Second

// stop sends SIGTERM and waits for the process to exit, SIGKILL after stopGrace.
func (c *child) stop() error {
	defer removeIfOurs(c.pidFile, c.pid)
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.proc.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		var ee *exec.ExitError
		if c.exitErr != nil && !errors.As(c.exitErr, &ee) {
			return fmt.Errorf("%s: %w", c.name, c.exitErr)
		}
		if ee != nil && ee.ExitCode() != 0 {
			return fmt.Errorf("%s exited with status %d after SIGTERM; see its log", c.name, ee.ExitCode())
		}
		return nil
	case <-time.After(stopGrace):
		_ = c.proc.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within %v of SIGTERM and was killed", c.name, stopGrace)
	}
}

// waitReady polls url until it answers 200, the process exits, or ctx ends.
func (sp *child) waitReady(ctx context.Context, u string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-sp.exited:
			return fmt.Errorf("%s exited before it was ready (%v); see its log", sp.name, sp.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (last answer: %s): %w", u, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitDiscovered waits until serve's internal-discovery znode is there, as a Coordinator discovers a Historical.
func waitDiscovered(ctx context.Context, cfg *configs.Config, sp *child) (discovery.Node, error) {
	r, err := discovery.OpenZooKeeper(ctx, cfg, nil)
	if err != nil {
		return discovery.Node{}, fmt.Errorf("reading ZooKeeper %s: %w", cfg.ZK.Service.Host, err)
	}
	defer r.Close()
	name := cfg.Node.HostAndPortToUse()
	for {
		nodes, err := r.Nodes(ctx, "HISTORICAL")
		for _, n := range nodes {
			if n.Name == name {
				return n, nil
			}
		}
		select {
		case <-sp.exited:
			return discovery.Node{}, fmt.Errorf("serve exited before it announced itself (%v); see its log", sp.exitErr)
		case <-ctx.Done():
			return discovery.Node{}, fmt.Errorf("waiting for %s/HISTORICAL/%s in ZooKeeper %s (last read: %v): %w",
				cfg.ZK.Paths.InternalDiscovery, name, cfg.ZK.Service.Host, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopStale stops the process of pidFile when its command line shows it is the sandbox's own (it names mark and
// is the program kind), and waits until it is gone. Anything else the pid file may point at (a process that has
// since reused the pid) is left alone.
func stopStale(pidFile, mark, kind string, p *printer) error {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return os.Remove(pidFile)
	}
	if !isSandboxProcess(pid, mark, kind) {
		return os.Remove(pidFile)
	}
	p.step("stale", "stopping the %s left running by an earlier sandbox (pid %d)", kind, pid)
	_ = kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopGrace + 5*time.Second)
	for isSandboxProcess(pid, mark, kind) {
		if time.Now().After(deadline) {
			_ = kill(pid, syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
			if isSandboxProcess(pid, mark, kind) {
				return fmt.Errorf("the %s of an earlier sandbox (pid %d) does not stop; kill it and run again", kind, pid)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return os.Remove(pidFile)
}

// isSandboxProcess reports whether pid runs with an argument naming mark and another that is kind (serve's
// subcommand, or the sandbox program's name).
func isSandboxProcess(pid int, mark, kind string) bool {
	args := commandLine(pid)
	if len(args) == 0 {
		return false
	}
	hasMark, hasKind := false, false
	for i, a := range args {
		if strings.Contains(a, mark) {
			hasMark = true
		}
		if a == kind || i == 0 && filepath.Base(a) == kind {
			hasKind = true
		}
	}
	return hasMark && hasKind
}

// removeIfOurs removes pidFile if it still holds pid.
func removeIfOurs(pidFile string, pid int) {
	if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		_ = os.Remove(pidFile)
	}
}

// timeBoundary sends the query a Broker would send for the first and last instants of wikipedia.
func timeBoundary(ctx context.Context, serveURL string) queryAnswer {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serveURL+"/druid/v2/",
		strings.NewReader(`{"queryType":"timeBoundary","dataSource":"wikipedia"}`))
	if err != nil {
		return queryAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return queryAnswer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return queryAnswer{status: resp.StatusCode, body: text}
}

// ---- output -------------------------------------------------------------------------------------------------------

type printer struct {
	w   io.Writer
	cwd string
}

func (p *printer) step(what, format string, args ...any) {
	fmt.Fprintf(p.w, "  %-12s %s\n", what, fmt.Sprintf(format, args...))
}

// rel shortens a path below the working directory to a relative one, for commands to copy.
func (p *printer) rel(path string) string {
	if !filepath.IsAbs(path) || p.cwd == "" {
		return path
	}
	if r, err := filepath.Rel(p.cwd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// progress draws the loading: a bar redrawn in place on a terminal, a line every second otherwise.
type progress struct {
	w          io.Writer
	terminal   bool
	last       time.Time
	lastCounts string
	drawn      bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, terminal: ok && isatty.IsTerminal(f.Fd())}
}

func (b *progress) update(p druidpeer.SandboxProgress) {
	counts := fmt.Sprintf("%d/%d served (%d from the cache, %d/%d loaded) · %d/%d in the Broker's view · %s",
		p.AlreadyServed+p.Loaded, p.Wanted, p.AlreadyServed, p.Loaded, p.Loads, p.Visible, p.Wanted, mib(p.VisibleBytes))
	if p.Drops > 0 {
		counts += fmt.Sprintf(" · %d/%d dropped", p.Dropped, p.Drops)
	}
	line := fmt.Sprintf("%s · %.1fs", counts, p.Elapsed.Seconds())
	if b.terminal {
		// Short enough for an 80-column terminal, where a wrapped line could not be redrawn in place.
		const width = 16
		done := width
		if p.Wanted > 0 {
			done = width * p.Visible / p.Wanted
		}
		fmt.Fprintf(b.w, "\r\033[K  [%s%s] %d/%d served · %d/%d in the Broker's view · %s · %.1fs", strings.Repeat("█", done),
			strings.Repeat("░", width-done), p.AlreadyServed+p.Loaded, p.Wanted, p.Visible, p.Wanted, mib(p.VisibleBytes), p.Elapsed.Seconds())
		b.drawn = true
		return
	}
	// Plain lines for logs: a line when the counts changed, at most one a second, and always the last one.
	final := p.Done || len(p.Failed) > 0
	if !final && (counts == b.lastCounts || time.Since(b.last) < time.Second) {
		return
	}
	b.last, b.lastCounts = time.Now(), counts
	fmt.Fprintf(b.w, "  %-12s %s\n", "loading", line)
}

func (b *progress) finish() {
	if b.terminal && b.drawn {
		fmt.Fprintln(b.w)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
