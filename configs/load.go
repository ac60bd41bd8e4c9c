package configs

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// LoadOptions are the sources of a configuration, from the weakest to the strongest: Druid's defaults, the
// properties files in order, druid_* environment variables, then Sets.
type LoadOptions struct {
	// PropertiesFiles are Java .properties files; a key in a later file overrides the same key in an earlier one.
	PropertiesFiles []string
	// Environ is the environment in os.Environ form; nil means os.Environ(). It is read for druid_* variables in
	// the Druid Docker image convention, ZOOKEEPER, ${env:…} and password providers of type "environment".
	Environ []string
	// Sets are --set key=value flags; they override files and environment. They also stand in for Java system
	// properties (-D): ${sys:NAME} reads them.
	Sets []string
	// NumCPU sizes the thread-count defaults; 0 means Processors(), the count a JVM in the same container sees.
	NumCPU int
	// ReadFile reads the properties files and ${file:…} references; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Require lists the checks the calling command needs beyond the ones every configuration must pass.
	Require []Requirement
	// KeepGoing makes Load return the Config along with its *Errors: each refused value is left at its default
	// (a derived default is derived), and Config.Problems lists what was refused. For `companion`, which runs
	// without what a problem affects rather than exit.
	KeepGoing bool
}

// rawValue is one value for a key from one source, before interpolation.
type rawValue struct {
	value  string
	origin Origin
	order  int
}

// Load reads the configuration from opts and returns it, or an *Errors listing every problem found.
func Load(opts LoadOptions) (*Config, error) {
	l := newLoader(opts)
	l.collect(opts)
	c := l.build()
	for _, r := range opts.Require {
		if r.ok != nil && !r.ok(c) && !l.probs.about(r.key) {
			l.probs.add(Problem{Key: r.key, Msg: r.msg})
		}
	}
	if err := l.probs.err(); err != nil {
		if opts.KeepGoing {
			c.problems = err.(*Errors).Problems
			return c, err
		}
		return nil, err
	}
	return c, nil
}

type loader struct {
	lk       *lookups
	numCPU   int
	values   map[string]rawValue // the winning raw value of every key
	order    int
	probs    problems
	warnings []string
}

func newLoader(opts LoadOptions) *loader {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	readFile := opts.ReadFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	numCPU := opts.NumCPU
	if numCPU <= 0 {
		numCPU = Processors()
	}
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return &loader{
		lk:     &lookups{env: env, sys: systemProperties(env), readFile: readFile},
		numCPU: numCPU,
		values: make(map[string]rawValue),
	}
}

// systemProperties stands in for the Java system properties ${sys:…} can read: a few that every JVM has, derived
// from the environment (--set values are added on top when the flags are read).
func systemProperties(env map[string]string) map[string]string {
	sys := map[string]string{
		"java.io.tmpdir": "/tmp",
		"file.separator": "/",
		"path.separator": ":",
		"line.separator": "\n",
	}
	if h, ok := env["HOME"]; ok {
		sys["user.home"] = h
	}
	if u, ok := env["USER"]; ok {
		sys["user.name"] = u
	}
	if wd, err := os.Getwd(); err == nil {
		sys["user.dir"] = wd
	}
	return sys
}

// put records a value, which overrides any earlier one for the key; order places it among all values read.
func (l *loader) put(key, value string, origin Origin, order int) {
	l.values[key] = rawValue{value: value, origin: origin, order: order}
}

// next is the order of the next value read outside a file.
func (l *loader) next() int {
	l.order++
	return l.order
}

// collect reads every source into l.values, later sources overriding earlier ones.
func (l *loader) collect(opts LoadOptions) {
	for _, path := range opts.PropertiesFiles {
		l.collectFile(path)
	}
	l.collectEnv()
	for _, s := range opts.Sets {
		order := l.next()
		key, value, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			l.probs.add(Problem{Origin: Origin{Kind: FromFlag}, Msg: fmt.Sprintf("--set %s: expected key=value", quoteValue(s)), order: order})
			continue
		}
		l.put(key, value, Origin{Kind: FromFlag}, order)
		l.lk.sys[key] = value
	}
}

func (l *loader) collectFile(path string) {
	data, err := l.lk.readFile(path)
	if err != nil {
		l.probs.add(Problem{Origin: Origin{Kind: FromFile, Path: path}, Msg: fmt.Sprintf("cannot read the properties file: %v", err), order: l.next()})
		return
	}
	props, errs := parseProperties(data)
	// Values and problems of a file are ordered by line.
	base := l.order
	for _, e := range errs {
		l.probs.add(Problem{Origin: Origin{Kind: FromFile, Path: path, Line: e.line}, Msg: "cannot parse the line: " + e.msg, order: base + e.line})
		l.order = max(l.order, base+e.line)
	}
	seen := make(map[string]int, len(props))
	for _, p := range props {
		if first, ok := seen[p.key]; ok && strings.HasPrefix(p.key, "druid.") {
			l.warnings = append(l.warnings, fmt.Sprintf("%s: %s: also set on line %d; the later value wins, as in Java",
				Origin{Kind: FromFile, Path: path, Line: p.line}, p.key, first))
		}
		seen[p.key] = p.line
		l.put(p.key, p.value, Origin{Kind: FromFile, Path: path, Line: p.line}, base+p.line)
		l.order = max(l.order, base+p.line)
	}
}

// collectEnv applies the Druid Docker image convention (distribution/docker/druid.sh): ZOOKEEPER sets
// druid.zk.service.host, then every variable whose name starts with "druid_" sets the key made by turning each _
// into a . (case kept: druid_segmentCache_locations sets druid.segmentCache.locations). Unlike druid.sh, which
// writes them into a properties file, values are taken verbatim (no backslash escapes).
func (l *loader) collectEnv() {
	if zk := l.lk.env["ZOOKEEPER"]; zk != "" {
		l.put("druid.zk.service.host", zk, Origin{Kind: FromEnv, Name: "ZOOKEEPER"}, l.next())
	}
	names := make([]string, 0)
	for name := range l.lk.env {
		if strings.HasPrefix(name, "druid_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		l.put(strings.ReplaceAll(name, "_", "."), l.lk.env[name], Origin{Kind: FromEnv, Name: name}, l.next())
	}
}

// build turns the collected values into a Config, recording problems.
func (l *loader) build() *Config {
	c := &Config{}
	for i := range registry {
		k := &registry[i]
		if k.derive == nil && k.def != "" {
			if err := k.kind.set(c, k.def, l.lk); err != nil {
				panic(fmt.Sprintf("configs: default of %s does not parse: %v", k.name, err))
			}
		}
	}

	keys := make([]string, 0, len(l.values))
	for key := range l.values {
		keys = append(keys, key)
	}
	sort.Strings(keys)

	resolved := make(map[string]string, len(keys))
	refused := map[string]bool{} // keys whose value was refused: they keep their default
	for _, key := range keys {
		rv := l.values[key]
		def, known := keysByName[key]
		if !known {
			if strings.HasPrefix(key, "druid.sidecar.") {
				l.probs.add(Problem{Key: key, Origin: rv.origin, Msg: unknownSidecarKey(key), order: rv.order})
				continue
			}
			if !strings.HasPrefix(key, "druid.") {
				continue
			}
			v, err := l.lk.interpolate(rv.value)
			if err != nil {
				l.warnings = append(l.warnings, fmt.Sprintf("%s: %s: %v (a key druid-sidecar does not read; shown uninterpolated)", rv.origin, key, err))
				v = rv.value
			}
			resolved[key] = v
			continue
		}
		v, err := l.lk.interpolate(rv.value)
		if err != nil {
			l.probs.add(Problem{Key: key, Origin: rv.origin, Msg: err.Error(), order: rv.order})
			refused[key] = true
			continue
		}
		resolved[key] = v
		if err := def.kind.set(c, v, l.lk); err != nil {
			l.probs.add(Problem{Key: key, Origin: rv.origin, Msg: err.Error(), order: rv.order})
			refused[key] = true
		}
		if def.warn != "" {
			l.warnings = append(l.warnings, fmt.Sprintf("%s: %s: %s", rv.origin, key, def.warn))
		}
	}

	for i := range registry {
		k := &registry[i]
		if _, set := l.values[k.name]; (!set || refused[k.name]) && k.derive != nil {
			k.derive(c, l.numCPU)
		}
	}
	l.finish(c)
	c.entries = l.entries(c, resolved)
	c.warnings = l.warnings
	return c
}

// finish applies the rules that involve several keys.
func (l *loader) finish(c *Config) {
	origin := func(key string) (Origin, int) {
		rv := l.values[key]
		return rv.origin, rv.order
	}
	n := &c.Node
	_, plaintextSet := l.values["druid.plaintextPort"]
	if !plaintextSet && n.LegacyPort != 0 {
		n.PlaintextPort, plaintextSet = n.LegacyPort, true
	} else if plaintextSet && n.LegacyPort != 0 && n.LegacyPort != n.PlaintextPort {
		// DruidNode takes druid.plaintextPort and ignores druid.port then; a Historical started from the same files
		// listens on the former, so say which one wins rather than refuse what Java accepts.
		o, _ := origin("druid.port")
		l.warnings = append(l.warnings, fmt.Sprintf("%s: druid.port: %d is ignored: druid.plaintextPort=%d is set and wins, as in Druid",
			o, n.LegacyPort, n.PlaintextPort))
	}
	if c.hostPort != 0 {
		if !plaintextSet {
			n.PlaintextPort = c.hostPort
		} else if n.PlaintextPort != c.hostPort {
			o, ord := origin("druid.host")
			l.probs.add(Problem{Key: "druid.host", Origin: o, order: ord, Msg: fmt.Sprintf(
				"port %d conflicts with druid.plaintextPort=%d; drop the port from druid.host or make them equal", c.hostPort, n.PlaintextPort)})
		}
	}
	if !n.EnablePlaintextPort && !n.EnableTLSPort {
		o, ord := origin("druid.enablePlaintextPort")
		l.probs.add(Problem{Key: "druid.enablePlaintextPort", Origin: o, order: ord,
			Msg: "at least one of druid.enablePlaintextPort and druid.enableTlsPort must be true"})
	}
	if n.EnablePlaintextPort && n.EnableTLSPort && n.PlaintextPort == n.TLSPort {
		o, ord := origin("druid.tlsPort")
		l.probs.add(Problem{Key: "druid.tlsPort", Origin: o, order: ord,
			Msg: fmt.Sprintf("must differ from druid.plaintextPort (%d) when both connectors are enabled", n.PlaintextPort)})
	}

	paths := &c.ZK.Paths
	if msg := checkZKPath(makeZKPath(paths.Base, "")); msg != "" {
		o, ord := origin("druid.zk.paths.base")
		l.probs.add(Problem{Key: "druid.zk.paths.base", Origin: o, order: ord, Msg: msg})
	}
	paths.Overlord = makeZKPath(paths.Base, "overlord")
	paths.InternalDiscovery = makeZKPath(paths.Base, "internal-discovery")
	if !c.ZK.Enabled {
		c.Announcer.SkipSegmentAnnouncementOnZK = true
	}
	l.resolveDruidVersion(c, origin)

	l.checkCachePaths(c)
	if c.Server.MaxSize == 0 {
		c.Server.MaxSize = c.SegmentCache.CombinedMaxSize()
	}

	if c.Discovery.Type == DiscoveryK8s && c.Discovery.K8s.ClusterIdentifier == "" && !l.probs.about("druid.discovery.k8s.clusterIdentifier") {
		o, ord := origin("druid.discovery.type")
		l.probs.add(Problem{Key: "druid.discovery.k8s.clusterIdentifier", Origin: o, order: ord,
			Msg: "not set; druid.discovery.type=k8s finds the cluster's pods and leader ConfigMaps by it"})
	}
	if c.Escalator.Type == "basic" && c.Escalator.InternalClientUsername == "" {
		o, ord := origin("druid.escalator.type")
		l.probs.add(Problem{Key: "druid.escalator.internalClientUsername", Origin: o, order: ord,
			Msg: "not set; druid.escalator.type=basic needs the internal client's user name"})
	}
	if c.Sidecar.InternalAuth && c.Escalator.Type != "basic" {
		o, ord := origin("druid.sidecar.internalAuth")
		l.probs.add(Problem{Key: "druid.sidecar.internalAuth", Origin: o, order: ord,
			Msg: "is true but druid.escalator.type is not basic; the credentials to require are the escalator's"})
	}
}

// unknownSidecarKey explains an unknown druid.sidecar.* key, suggesting the nearest known one.
func unknownSidecarKey(key string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range registry {
		if !strings.HasPrefix(k.name, "druid.sidecar.") {
			continue
		}
		if d := EditDistance(strings.ToLower(key), strings.ToLower(k.name)); d < bestDist {
			best, bestDist = k.name, d
		}
	}
	suffix := len(key) - len("druid.sidecar.")
	if best != "" && bestDist <= max(2, suffix/2) {
		return fmt.Sprintf("unknown druid-sidecar key; did you mean %s?", best)
	}
	return "unknown druid-sidecar key; the known ones are listed by `druid-sidecar config print`"
}

// EditDistance is the Levenshtein distance between a and b, in bytes. The command line uses it too, to suggest
// the command a user meant.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Requirement is a check that only some commands need, such as `serve` needing druid.host.
type Requirement struct {
	key string
	msg string
	ok  func(*Config) bool
}

// Key is the key the requirement concerns.
func (r Requirement) Key() string { return r.key }

// The requirements commands can ask for.
var (
	// RequireHost: druid.host is set (the address to announce).
	RequireHost = Requirement{key: "druid.host",
		msg: "not set; this command announces the node and needs its address (set druid.host, druid_host or --set druid.host=…)",
		ok:  func(c *Config) bool { return c.Node.Host != "" }}
	// RequireSegmentCache: at least one druid.segmentCache.locations entry.
	RequireSegmentCache = Requirement{key: "druid.segmentCache.locations",
		msg: "no locations; this command needs at least one, e.g. " + locationsExample,
		ok:  func(c *Config) bool { return len(c.SegmentCache.locations) > 0 }}
	// RequireMetadataStore: druid.metadata.storage.connector.connectURI is set.
	RequireMetadataStore = Requirement{key: "druid.metadata.storage.connector.connectURI",
		msg: "not set; this command reads the metadata store and needs its JDBC URI, e.g. jdbc:postgresql://db:5432/druid",
		ok:  func(c *Config) bool { return c.Metadata.ConnectURI != "" }}
)
