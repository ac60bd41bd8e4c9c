package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func init() { register(cacheCommand()) }

func cacheCommand() *command {
	return &command{
		name:     "cache",
		synopsis: "pull a segment into the segment cache, check the cache (fsck) or list it",
		usage:    "pull SEGMENT.json|- | verify [--repair] | ls [--format table|json]",
		run:      runCache,
	}
}

const cacheUsage = `Usage: druid-sidecar cache pull   [--properties FILE]... [--set key=value]... SEGMENT.json|-
       druid-sidecar cache verify [--properties FILE]... [--set key=value]... [--repair]
       druid-sidecar cache ls     [--properties FILE]... [--set key=value]... [--format table|json]

pull loads one segment (a DataSegment JSON, or a load change request) as a Coordinator's load would: it reads the
cache first (as a starting server does), reserves the segment's size in a location, pulls it from deep storage
(replacing a partial copy of it) and writes its info_dir entry, then prints its directory.
verify checks every cache entry (a Java Historical's too) and lists what is corrupt, partial, orphaned, over a
location's maxSize or could not be read; it exits 1 when it finds any, and --repair removes them, except what could
not be read (a read error says nothing about the segment: check permissions and the disk). A server's startup
removes only what a Druid Historical's does (__drop, info_dir entries of segments that are nowhere) and reports the
rest; verify --repair is what removes directories without an info_dir entry, except the copies companion placed
for a Java Historical that has not loaded them yet.
ls lists the cached segments per location with their sizes and the locations' usage.

pull and verify --repair change the cache: never run them against a cache a running server is using.
`

func runCache(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		io.WriteString(env.stderr, cacheUsage)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	switch args[0] {
	case "pull":
		return runCachePull(ctx, env, args[1:])
	case "verify":
		return runCacheVerify(ctx, env, args[1:])
	case "ls":
		return runCacheLs(ctx, env, args[1:])
	}
	fmt.Fprintf(env.stderr, "druid-sidecar cache: unknown sub-command %q: expected pull, verify or ls\n", args[0])
	return exitBadInput
}

// openCache loads the configuration and opens the cache it describes; on failure it has printed why.
func openCache(env *environment, name string, common *commonFlags) (*configs.Config, *segcache.Cache, hclog.Logger, int) {
	log, err := common.logger(env.stderr)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache %s: %v\n", name, err)
		return nil, nil, nil, exitBadInput
	}
	cfg, code := loadConfig(env, common, configs.RequireSegmentCache)
	if cfg == nil {
		return nil, nil, nil, code
	}
	cache, err := segcache.NewCache(cfg, segcache.CacheOptions{Logger: log.Named("cache")})
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache %s: %v\n", name, err)
		return nil, nil, nil, exitBadInput
	}
	return cfg, cache, log, exitOK
}

func runCachePull(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("cache pull", "SEGMENT.json|-", env)
	var common commonFlags
	common.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitCodeForParse(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(env.stderr, "druid-sidecar cache pull: expected one argument, a DataSegment JSON file or - for stdin\n")
		return exitBadInput
	}
	seg, err := readSegmentArg(env, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache pull: %v\n", err)
		return exitBadInput
	}
	cfg, cache, log, code := openCache(env, "pull", &common)
	if cache == nil {
		return code
	}
	defer cache.Close()
	opts := deepstorage.OptionsFromConfig(cfg)
	opts.Logger = log.Named("deepstorage")
	puller, err := deepstorage.New(opts)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache pull: %v\n", err)
		return exitBadInput
	}
	if _, _, err := cache.Bootstrap(ctx); err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache pull: reading the segment cache: %v\n", err)
		return exitFailure
	}
	dir, err := cache.Load(ctx, seg, puller)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache pull: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(env.stdout, dir)
	return exitOK
}

// readSegmentArg reads a DataSegment, or the segment of a load change request, from a file or stdin ("-").
func readSegmentArg(env *environment, arg string) (*segments.DataSegment, error) {
	var data []byte
	var err error
	if arg == "-" {
		data, err = io.ReadAll(env.stdin)
	} else {
		data, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the segment: %w", err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object (a DataSegment or a load change request): %w", arg, err)
	}
	if _, ok := members["action"]; ok {
		var req segments.ChangeRequest
		if err := req.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		if req.Action != segments.ActionLoad {
			return nil, fmt.Errorf("%s is a %q change request; cache pull takes a segment or a load request", arg, req.Action)
		}
		return req.Segment, nil
	}
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return seg, nil
}

func runCacheVerify(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("cache verify", "", env)
	var common commonFlags
	common.register(fs)
	repair := fs.Bool("repair", false, "remove what is corrupt, partial, orphaned, over-limit or left over")
	if err := fs.Parse(args); err != nil {
		return exitCodeForParse(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "druid-sidecar cache verify: unexpected argument %q\n", fs.Arg(0))
		return exitBadInput
	}
	_, cache, _, code := openCache(env, "verify", &common)
	if cache == nil {
		return code
	}
	defer cache.Close()
	rep, err := cache.Verify(ctx, *repair)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache verify: %v\n", err)
		return exitBadInput
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(env.stdout, safetext.Printable(p.String())) // directory names come from segment ids
	}
	findings := rep.Findings()
	repaired := 0
	for _, p := range findings {
		if p.Repaired {
			repaired++
		}
	}
	fmt.Fprintf(env.stdout, "%d complete segments (%d bytes) in %s; %d problems", rep.Segments, rep.Bytes,
		cache.Layout(), len(findings))
	if *repair {
		fmt.Fprintf(env.stdout, ", %d removed", repaired)
	}
	fmt.Fprintln(env.stdout)
	if len(findings) > 0 {
		if !*repair {
			fmt.Fprintln(env.stderr, "druid-sidecar cache verify: run with --repair to remove them (with the server stopped)")
		}
		return exitFailure
	}
	return exitOK
}

func runCacheLs(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("cache ls", "", env)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "table", "output format: table or json")
	if ok, code := parseArgs(env, "cache ls", fs, args, format, "table", "json"); !ok {
		return code
	}
	_, cache, _, code := openCache(env, "ls", &common)
	if cache == nil {
		return code
	}
	defer cache.Close()
	cached, rep, err := cache.Inspect(ctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cache ls: %v\n", err)
		return exitBadInput
	}
	type lsSegment struct {
		ID           string `json:"id"`
		DataSource   string `json:"dataSource"`
		Interval     string `json:"interval"`
		Version      string `json:"version"`
		PartitionNum int    `json:"partitionNum"`
		Size         int64  `json:"size"`
		Dir          string `json:"dir"`
	}
	type lsLocation struct {
		Path             string      `json:"path"`
		MaxSize          int64       `json:"maxSize"`
		Used             int64       `json:"used"`
		FreeSpacePercent float64     `json:"freeSpacePercent"`
		DiskTotal        uint64      `json:"diskTotal"`
		DiskFree         uint64      `json:"diskFree"`
		Segments         []lsSegment `json:"segments"`
	}
	var locs []*lsLocation
	byPath := map[string]*lsLocation{}
	for _, u := range cache.Usage() {
		l := &lsLocation{Path: u.Path, MaxSize: u.MaxSize, FreeSpacePercent: u.FreeSpacePercent, DiskTotal: u.DiskTotal,
			DiskFree: u.DiskFree, Segments: []lsSegment{}}
		locs = append(locs, l)
		byPath[u.Path] = l
	}
	for _, c := range cached {
		l := byPath[c.Location]
		id := c.Segment.ID()
		l.Used += c.Bytes
		l.Segments = append(l.Segments, lsSegment{ID: id.String(), DataSource: id.DataSource, Interval: id.Interval.String(),
			Version: id.Version, PartitionNum: id.PartitionNum, Size: c.Bytes, Dir: c.Dir})
	}
	if findings := rep.Findings(); len(findings) > 0 {
		fmt.Fprintf(env.stderr, "druid-sidecar cache ls: %d entries are not complete segments and are not listed; run druid-sidecar cache verify\n", len(findings))
	}
	if *format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"layout": cache.Layout(), "infoDir": cache.InfoDir(), "locations": locs}); err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar cache ls: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	for _, l := range locs {
		max := "unlimited"
		if l.MaxSize != 1<<63-1 {
			max = configs.FormatHumanBytes(l.MaxSize)
		}
		fmt.Fprintf(tw, "%s\t%d segments, %s used of %s maxSize; disk %s free of %s\n", safetext.Printable(l.Path), len(l.Segments),
			configs.FormatHumanBytes(l.Used), max, configs.FormatHumanBytes(int64(l.DiskFree)), configs.FormatHumanBytes(int64(l.DiskTotal)))
		for _, s := range l.Segments {
			fmt.Fprintf(tw, "  %s\t%s\n", safetext.Printable(s.ID), configs.FormatHumanBytes(s.Size)) // ids come from the cluster
		}
	}
	tw.Flush()
	return exitOK
}
