package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// screenshotEnv names a file to write the Chromium test's screenshot to, shrunk for the documentation:
// docs/audit-report.png is made with
//
//	DRUID_SIDECAR_AUDIT_SCREENSHOT=$PWD/docs/audit-report.png go test -run TestHTMLReportInChromium ./audit
const screenshotEnv = "DRUID_SIDECAR_AUDIT_SCREENSHOT"

// The hosts of the two Historicals the realistic report adds to the planted cluster; audittest uses .71 to .73.
const (
	hostWikipediaA = "127.0.0.74"
	hostWikipediaB = "127.0.0.75"
)

// A report of a real audit, rendered by headless Chromium: the screenshot is a picture of the requested size with
// the chart's colours in it, and every number the page marks equals the JSON report's value at its pointer.
func TestHTMLReportInChromium(t *testing.T) {
	rep := realisticReport(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "audit.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page: %d bytes, %d findings, %d dataSources", buf.Len(), len(rep.Findings), len(rep.DataSources))
	url := "file://" + page

	const width, height = 1280, 2200
	img := decodePNG(t, testenv.Screenshot(t, url, width, height))
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Fatalf("the screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	colours, bars := paletteOf(img)
	if colours < 64 {
		t.Errorf("the screenshot has %d distinct colours: the page looks blank", colours)
	}
	// The legend's squares and the badges have these colours too, but only bars fill thousands of pixels.
	for name, n := range bars {
		if n < 1500 {
			t.Errorf("%d pixels of the chart's %s: the availability charts did not render", n, name)
		}
	}

	dom := testenv.DumpDOM(t, url)
	seen := checkNumbers(t, dom, rep)
	// The numbers the page promises to show are all there: a wrong pointer fails above, a missing one here.
	want := []string{"/totals/findings", "/totals/unavailableSegments", "/totals/usedBytes", "/totals/deepStorageObjects",
		"/totals/orphanBytes"}
	for _, k := range Kinds {
		want = append(want, "/totals/findingsByKind/"+string(k))
	}
	for i, d := range rep.DataSources {
		for _, f := range []string{"usedSegments", "usedBytes", "expectedSegments", "availableSegments", "unavailableSegments",
			"underReplicatedSegments", "overReplicatedSegments", "unverifiedSegments", "loadingSegments", "overshadowedSegments",
			"taskServedSegments", "staleReplicaSegments"} {
			want = append(want, jp("dataSources", i, f))
		}
		for k := range d.FindingsByKind {
			want = append(want, jp("dataSources", i, "findingsByKind", k))
		}
	}
	for i := range rep.Servers {
		want = append(want, jp("servers", i, "segments"), jp("servers", i, "bytes"), jp("servers", i, "partialSegments"))
	}
	for i, f := range rep.Findings {
		want = append(want, jp("findings", i, "actualReplicas"), jp("findings", i, "bytes"))
		if f.ExpectedReplicas > 0 {
			want = append(want, jp("findings", i, "expectedReplicas"))
		}
	}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("the page shows no number for %s", k)
		}
	}
	var bucketFields []string
	for k := range seen {
		if i := strings.Index(k, "/availability/"); i >= 0 {
			bucketFields = append(bucketFields, k[strings.LastIndexByte(k, '/')+1:])
		}
	}
	for _, f := range []string{"expectedSegments", "availableSegments", "fullyReplicatedSegments"} {
		if !slices.Contains(bucketFields, f) {
			t.Errorf("no bar of the charts shows %s", f)
		}
	}
	t.Logf("%d numbers checked", len(seen))

	if out := os.Getenv(screenshotEnv); out != "" {
		writeDocScreenshot(t, url, out)
	}
}

// Hostile dataSource names, segment ids, tiers, server names and details come out as text: no element, attribute
// or script of theirs reaches the page, and each reads back verbatim.
func TestWriteHTMLEscapesHostileNames(t *testing.T) {
	hostile := []string{
		`<script>alert("ds")</script>`,
		`"><img src=x onerror=alert(1)>`,
		`' onmouseover='alert(2)`,
		`</title></style></svg><script>alert(3)</script>`,
		`javascript:alert(4)`,
		`]]><!-- & &amp; </textarea>`,
	}
	rep := syntheticReport(hostile, 3, 12)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	ids := map[string]bool{} // the text of each segment cell: the finding's segment id, then its object
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "td" && attr(n, "class") == "id" {
			ids[textOf(n)] = true
		}
		switch n.Type {
		case html.TextNode:
			text.WriteString(n.Data)
			text.WriteByte('\n')
		case html.ElementNode:
			switch n.Data {
			case "script", "img", "iframe", "object", "embed", "link", "textarea", "a", "form", "base", "meta":
				if n.Data != "meta" || attr(n, "http-equiv") != "" {
					t.Errorf("the page has a <%s> element", n.Data)
				}
			}
			if n.Data == "style" && (strings.Contains(textOf(n), "url(") || strings.Contains(textOf(n), "@import")) {
				t.Errorf("the style sheet fetches something")
			}
			// The page links nothing: any URL attribute, or an event handler, came from the report.
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "src" || a.Key == "href" || a.Key == "style" || a.Key == "action" {
					t.Errorf("<%s> has the attribute %s=%q", n.Data, a.Key, a.Val)
				}
			}
		}
	})
	for _, h := range hostile {
		if !strings.Contains(text.String(), h) {
			t.Errorf("the page's text lacks %q verbatim", h)
		}
		if !ids[h+h] {
			t.Errorf("no segment cell reads %q verbatim (segment id and object)", h)
		}
	}
	checkNumbers(t, buf.String(), rep)
}

// A huge report stays a page: the findings table stops at HTMLMaxFindings and says where the rest are, the charts
// stop at their budget, and the size stays in megabytes.
func TestWriteHTMLBoundsLargeReports(t *testing.T) {
	rep := syntheticReport([]string{"wikipedia"}, 120, 400)
	rep.Findings = rep.Findings[:0]
	for i := range 1200 {
		rep.Findings = append(rep.Findings, Finding{Kind: KindUnavailable, Severity: SeverityCritical,
			DataSource: "wikipedia", SegmentID: fmt.Sprintf("wikipedia_%d", i), Servers: []string{}, ExpectedReplicas: 2})
	}
	rep.FindingsOmitted = 300
	rep.Totals.Findings = 1500
	rep.Totals.FindingsByKind = map[Kind]int{KindUnavailable: 1500}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, `data-k="/findings/`) / 3; n != HTMLMaxFindings { // expected, actual and bytes per row
		t.Errorf("%d finding rows, want %d", n, HTMLMaxFindings)
	}
	if !strings.Contains(page, "500 more findings are not listed here: 200 more in the JSON output") {
		t.Errorf("the page does not say where the 500 findings not listed are")
	}
	if strings.Contains(page, `data-k="/findings/1000/`) {
		t.Errorf("finding 1001 is listed")
	}
	charts := strings.Count(page, "<figure")
	if charts != htmlMaxBars/400 || !strings.Contains(page, fmt.Sprintf("%d more dataSources are not charted", 120-charts)) {
		t.Errorf("%d charts of 120 dataSources, want %d and a note", charts, htmlMaxBars/400)
	}
	if buf.Len() > 8<<20 {
		t.Errorf("the page is %d bytes", buf.Len())
	}
	t.Logf("page: %d bytes", buf.Len())

	// Fewer findings than the bound, but the audit's own bound left some out of the JSON.
	rep.Findings = rep.Findings[:10]
	rep.Totals.Findings = 25
	buf.Reset()
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "15 more findings were only counted: the audit keeps its worst 10") {
		t.Errorf("the page does not say that 15 findings were only counted")
	}
}

// A report with nothing in it, nil slices and maps included, renders; no report is an error.
func TestWriteHTMLEmptyReport(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, &Report{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"No dataSource was audited", "No data server was found", "No findings", "Healthy"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("the empty report lacks %q", s)
		}
	}
	if err := WriteHTML(&buf, nil); err == nil {
		t.Error("no error for a nil report")
	}
}

func TestHTMLFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{percent(999, 1000), "99.9 %"}, {percent(1, 1), "100.0 %"}, {percent(0, 0), "–"}, {percent(1, 3), "33.3 %"},
		{configs.FormatHumanBytes(999), "999 B"}, {configs.FormatHumanBytes(1500), "1.5 kB"}, {configs.FormatHumanBytes(300e9), "300.0 GB"},
		{groupDigits(1234567), "1,234,567"}, {groupDigits(-1000), "-1,000"}, {groupDigits(12), "12"},
		{jp("a", 1, "x/y~z"), "/a/1/x~1y~0z"},
		{compactInterval("2025-01-02T00:00:00.000Z/2025-01-03T00:00:00.000Z"), "2025-01-02/2025-01-03"},
		{compactInterval("2025-01-02T01:00:00.000Z/2025-01-03T00:00:00.000Z"), "2025-01-02T01:00:00.000Z/2025-01-03"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// realisticReport audits the planted cluster of the audit's tests, to which it adds a dataSource of 60 days in two
// partitions served by two more Historicals, with two days partly unavailable and five under-replicated, and
// one cache_drift finding from Drift (which a cluster audit does not produce), so that every kind shows.
func realisticReport(t *testing.T) *Report {
	t.Helper()
	c := audittest.New(t, audittest.Options{Druid38: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var all, onA, onB []*segments.DataSegment
	var recs []metadata.SegmentRecord
	for day := 0; day < 60; day++ {
		for part := 0; part < 2; part++ {
			size := int64(20000 + (day*7919+part*104729)%40000)
			seg := sandbox.Segment("wikipedia", day, part, 2, c.S3.Bucket, audittest.BaseKey, size)
			c.S3.Put(t, sandbox.Key(audittest.BaseKey, seg.ID()), make([]byte, size))
			recs = append(recs, metadata.SegmentRecord{Segment: seg, Used: true, CreatedDate: time.Now().Add(-time.Hour)})
			all = append(all, seg)
			switch {
			case (day == 40 || day == 41) && part == 1: // unavailable
			case day >= 50 && day < 55 && part == 0: // under-replicated
				onA = append(onA, seg)
			default:
				onA, onB = append(onA, seg), append(onB, seg)
			}
		}
	}
	if err := metadata.InsertSegment(ctx, c.PG.Conn(t), c.Config.Metadata.Tables, recs...); err != nil {
		t.Fatal(err)
	}
	nodeA := announceHistorical(t, c, hostWikipediaA, onA)
	announceHistorical(t, c, hostWikipediaB, onB)

	rep := runAudit(t, c, Options{})

	// One segment nodeA announces and has no directory for, as serve's periodic audit reports it.
	drift := Drift(&NodeState{OnDisk: map[string]DiskSegment{}, InfoDir: map[string]bool{},
		Announced: map[string]bool{all[90].ID().String(): true}}, time.Now(), 0, nil)
	if len(drift) != 1 {
		t.Fatalf("drift: %+v", drift)
	}
	drift[0].Servers = []string{nodeA}
	rep.Findings = append(rep.Findings, drift[0])
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int { return a.Kind.Rank() - b.Kind.Rank() })
	rep.Totals.Findings++
	rep.Totals.FindingsByKind[KindCacheDrift]++
	for i := range rep.DataSources {
		if rep.DataSources[i].DataSource == "wikipedia" {
			rep.DataSources[i].FindingsByKind[KindCacheDrift]++
		}
	}
	for _, k := range Kinds {
		if rep.Totals.FindingsByKind[k] == 0 {
			t.Fatalf("the report has no %s finding: %+v", k, rep.Totals.FindingsByKind)
		}
	}
	return rep
}

// announceHistorical announces a hot-tier Historical on host, serving segs over HTTP (and in ZooKeeper), and
// returns its name.
func announceHistorical(t *testing.T, c *audittest.Cluster, host string, segs []*segments.DataSegment) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	inv := inventory.New()
	mux := http.NewServeMux()
	mux.Handle(inventory.Path, inv)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: append([]string{
		"druid.host=" + host, "druid.plaintextPort=" + port, "druid.server.tier=hot", "druid.server.maxSize=1000000000000"},
		c.Sets...)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := announcer.New(cfg, announcer.WithInventory(inv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	if err := a.AnnounceSegments(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(host, port)
}

// syntheticReport builds a report without a cluster: one dataSource per name (cycled up to n), each with days
// daily buckets, one finding of every kind per name, and servers named after the names.
func syntheticReport(names []string, n, days int) *Report {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rep := &Report{ReportVersion: ReportVersion, GeneratedAt: start.Add(400 * 24 * time.Hour), DurationSeconds: 1.25,
		Inputs: Inputs{MetadataStore: "PostgreSQL at 127.0.0.1:5432, database " + names[0], SegmentsTable: "druid_segments",
			RulesTable: "druid_rules", ZooKeeper: "127.0.0.1:2181/" + names[0], DeepStorage: "s3://bucket/" + names[0] + "/",
			DeepStorageChecked: true, DataSourceFilter: names, GraceSeconds: 900, RuleVersions: map[string]string{names[0]: names[0]}},
		Totals:   Totals{FindingsByKind: map[Kind]int{}},
		Warnings: names,
	}
	for i := range n {
		name := names[i%len(names)]
		if n > len(names) {
			name = fmt.Sprintf("%s_%d", name, i)
		}
		d := DataSourceSummary{DataSource: name, UsedSegments: days * 2, UsedBytes: int64(days) * 2e8, ExpectedSegments: days * 2,
			AvailableSegments: days*2 - 1, UnavailableSegments: 1, Granularity: "day", FindingsByKind: map[Kind]int{}}
		for j := range days {
			b := IntervalBucket{Start: start.AddDate(0, 0, j), End: start.AddDate(0, 0, j+1), ExpectedSegments: 2, ExpectedBytes: 4e8,
				AvailableSegments: 2, AvailableBytes: 4e8, FullyReplicatedSegments: 2 - j%3/2}
			if j == days/2 {
				b.AvailableSegments, b.FullyReplicatedSegments = 1, 0
			}
			b.Interval = b.Start.Format("2006-01-02T15:04:05.000Z") + "/" + b.End.Format("2006-01-02T15:04:05.000Z")
			d.Availability = append(d.Availability, b)
		}
		rep.DataSources = append(rep.DataSources, d)
		rep.Totals.DataSources++
		rep.Totals.UsedSegments += d.UsedSegments
		rep.Totals.ExpectedSegments += d.ExpectedSegments
		rep.Totals.AvailableSegments += d.AvailableSegments
		rep.Totals.UnavailableSegments++
	}
	for i, name := range names {
		rep.Servers = append(rep.Servers, ServerReport{Name: name, Role: "HISTORICAL", ServerType: "historical", Tier: name,
			Source: []Source{SourceHTTP, SourceZooKeeper, SourceUnreachable}[i%3], Segments: i, Bytes: int64(i) * 1e9, Error: name})
		for _, k := range Kinds {
			rep.Findings = append(rep.Findings, Finding{Kind: k, Severity: k.Severity(), DataSource: name, SegmentID: name,
				Interval: name, Tier: name, ExpectedReplicas: 2, ActualReplicas: 1, Servers: []string{name, name},
				Object: name, Bytes: 1e6, Detail: name})
			rep.Totals.Findings++
			rep.Totals.FindingsByKind[k]++
			if i < n {
				rep.DataSources[i].FindingsByKind[k]++
			}
		}
	}
	rep.Totals.Servers = len(rep.Servers)
	return rep
}

// checkNumbers checks every number page marks (data-k, data-pct) against rep's JSON, and returns the pointers
// seen. A pointer into a findingsByKind map whose kind is absent reads 0: the JSON leaves out kinds without
// findings.
func checkNumbers(t *testing.T, page string, rep *Report) map[string]bool {
	t.Helper()
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	lookup := func(ptr string) (string, bool) {
		v, ok := resolvePointer(doc, ptr)
		if !ok {
			if strings.Contains(ptr, "/findingsByKind/") && strings.Count(ptr[strings.Index(ptr, "/findingsByKind/")+1:], "/") == 1 {
				return "0", true
			}
			return "", false
		}
		n, ok := v.(json.Number)
		return string(n), ok
	}
	root, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	walk(root, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		if k := attr(n, "data-k"); k != "" {
			got := attr(n, "data-v")
			if got == "" {
				got = strings.ReplaceAll(strings.TrimSpace(textOf(n)), ",", "")
			}
			want, ok := lookup(k)
			switch {
			case !ok:
				t.Errorf("data-k %q names no number of the JSON report", k)
			case got != want:
				t.Errorf("%s: the page shows %q, the JSON report has %s", k, got, want)
			}
			seen[k] = true
		}
		if p := attr(n, "data-pct"); p != "" {
			num, den, _ := strings.Cut(p, " ")
			a, okA := lookup(num)
			b, okB := lookup(den)
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			if !okA || !okB || textOf(n) != percent(x, y) {
				t.Errorf("%s: the page shows %q, the JSON report has %s of %s", p, textOf(n), a, b)
			}
		}
	})
	if len(seen) == 0 {
		t.Error("the page marks no number")
	}
	return seen
}

// resolvePointer follows a JSON Pointer (RFC 6901) in a decoded JSON document.
func resolvePointer(doc any, ptr string) (any, bool) {
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot %s is not a PNG: %v", path, err)
	}
	return img
}

// The charts' colours, as the page's style sheet gives them.
var barColours = map[string]color.RGBA{
	"green (fully replicated)": {0x17, 0xb2, 0x6a, 0xff},
	"amber (available)":        {0xf7, 0x90, 0x09, 0xff},
	"red (unavailable)":        {0xd9, 0x2d, 0x20, 0xff},
}

// paletteOf counts the distinct colours of img, and the pixels of each bar colour.
func paletteOf(img image.Image) (int, map[string]int) {
	seen := map[color.RGBA]bool{}
	bars := map[string]int{}
	for name := range barColours {
		bars[name] = 0
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			seen[c] = true
			for name, want := range barColours {
				if near(c, want) {
					bars[name]++
				}
			}
		}
	}
	return len(seen), bars
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return x-y < 6 || y-x < 6 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// writeDocScreenshot renders the page's first screen at documentation size and writes it to out as a paletted
// PNG, which keeps it small.
func writeDocScreenshot(t *testing.T, url, out string) {
	t.Helper()
	img := decodePNG(t, testenv.Screenshot(t, url, 1100, 1650))
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, quantize(img)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d bytes", out, buf.Len())
}

// quantize maps img to a palette of its 256 most frequent colours (a page is mostly a few flat colours and the
// anti-aliased shades between them), each other colour to the nearest one kept.
func quantize(img image.Image) *image.Paletted {
	b := img.Bounds()
	freq := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			freq[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	cols := make([]color.RGBA, 0, len(freq))
	for c := range freq {
		cols = append(cols, c)
	}
	slices.SortFunc(cols, func(a, b color.RGBA) int {
		if freq[a] != freq[b] {
			return freq[b] - freq[a]
		}
		return int(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B)) - int(uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range cols[:min(len(cols), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}
