package realdruid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// client bounds every request, so that a hung service fails the test within seconds.
var client = &http.Client{Timeout: 30 * time.Second}

// Do sends one request with a JSON body (nil for none) and returns the status and the body. Transport errors fail
// the test; statuses are the caller's to judge.
func Do(t testing.TB, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatalf("realdruid: encoding the body of %s %s: %v", method, url, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("realdruid: %s %s: %v", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Without an Accept header, some Druid 25 endpoints that answer a map (DELETE of one segment) fail to pick a
	// writer and answer 500 after doing their work.
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("realdruid: %s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("realdruid: reading the answer to %s %s: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// call is Do, failing the test unless the status is 2xx, and decoding a JSON answer into out (when not nil).
func call(t testing.TB, method, url string, body, out any) {
	t.Helper()
	code, b := Do(t, method, url, body)
	if code/100 != 2 {
		t.Fatalf("realdruid: %s %s: HTTP %d: %s", method, url, code, truncate(b, 2000))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("realdruid: %s %s: the answer is not the JSON expected (%v): %s", method, url, err, truncate(b, 2000))
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// WaitFor polls cond every 200 ms until it returns true, and fails the test after timeout with what cond said last.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("realdruid: %s: not within %v; last seen: %s", what, timeout, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---- ingestion (Overlord, Indexer) -----------------------------------------------------------------------------

// Row is one input row; "ts" is its ISO-8601 timestamp, every other field a dimension (strings) or, for
// numbers, a long metric summed into a column of the same name.
type Row map[string]any

// Segment is a published segment as the metadata store holds it.
type Segment struct {
	ID         string          `json:"identifier"`
	DataSource string          `json:"dataSource"`
	Interval   string          `json:"interval"`
	Version    string          `json:"version"`
	Size       int64           `json:"size"`
	LoadSpec   json.RawMessage `json:"loadSpec"`
	Raw        json.RawMessage `json:"-"` // the payload, byte for byte
}

// Ingest runs a native batch task (index_parallel, inline JSON input, DAY segments, no rollup) for rows into
// dataSource, waits for it to succeed and for its segments to be in druid_segments and in the Coordinator's view
// of the metadata store, and returns the segments sorted by id.
func (c *Cluster) Ingest(t testing.TB, dataSource string, rows []Row) []Segment {
	t.Helper()
	var data strings.Builder
	dims := map[string]bool{}
	metrics := map[string]bool{}
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		data.Write(b)
		data.WriteByte('\n')
		for k, v := range r {
			switch v.(type) {
			case string:
				if k != "ts" {
					dims[k] = true
				}
			case int, int64, float64:
				metrics[k] = true
			}
		}
	}
	metricsSpec := []map[string]any{{"type": "count", "name": "count"}}
	for _, m := range sortedKeys(metrics) {
		metricsSpec = append(metricsSpec, map[string]any{"type": "longSum", "name": m, "fieldName": m})
	}
	task := map[string]any{
		"type": "index_parallel",
		"spec": map[string]any{
			"dataSchema": map[string]any{
				"dataSource":      dataSource,
				"timestampSpec":   map[string]any{"column": "ts", "format": "iso"},
				"dimensionsSpec":  map[string]any{"dimensions": sortedKeys(dims)},
				"metricsSpec":     metricsSpec,
				"granularitySpec": map[string]any{"segmentGranularity": "DAY", "queryGranularity": "NONE", "rollup": false},
			},
			"ioConfig": map[string]any{
				"type":        "index_parallel",
				"inputSource": map[string]any{"type": "inline", "data": data.String()},
				"inputFormat": map[string]any{"type": "json"},
			},
			"tuningConfig": map[string]any{"type": "index_parallel"},
		},
	}
	var submitted struct{ Task string }
	call(t, "POST", c.Overlord+"/druid/indexer/v1/task", task, &submitted)
	// The cluster outlives the test: its segments are marked unused when it ends, so that the Coordinator of the
	// next runs does not carry them.
	t.Cleanup(func() { c.MarkUnused(t, dataSource) })
	c.WaitTask(t, submitted.Task, 3*time.Minute)

	var segs []Segment
	WaitFor(t, "the segments of "+dataSource+" in druid_segments", time.Minute, func() (bool, string) {
		segs = c.UsedSegments(t, dataSource)
		return len(segs) > 0, fmt.Sprintf("%d used segments", len(segs))
	})
	// The Coordinator polls the metadata store (druid.manager.segments.pollDuration): wait until it knows them,
	// so that what a test asks of it next (load status, assignment) covers them.
	WaitFor(t, "the Coordinator's view of "+dataSource, time.Minute, func() (bool, string) {
		code, b := Do(t, "GET", c.Coordinator+"/druid/coordinator/v1/metadata/datasources/"+url.PathEscape(dataSource)+"/segments", nil)
		var ids []string
		json.Unmarshal(b, &ids)
		return code == 200 && len(ids) == len(segs), fmt.Sprintf("HTTP %d, %d of %d segments", code, len(ids), len(segs))
	})
	return segs
}

// WaitTask waits until the Overlord reports task id finished, and fails the test (with the end of the task's
// log) unless it succeeded.
func (c *Cluster) WaitTask(t testing.TB, id string, timeout time.Duration) {
	t.Helper()
	var status string
	var errMsg string
	WaitFor(t, "task "+id, timeout, func() (bool, string) {
		var s struct {
			Status struct {
				Status   string
				ErrorMsg string
			}
		}
		call(t, "GET", c.Overlord+"/druid/indexer/v1/task/"+url.PathEscape(id)+"/status", nil, &s)
		status, errMsg = s.Status.Status, s.Status.ErrorMsg
		return status == "SUCCESS" || status == "FAILED", status
	})
	if status != "SUCCESS" {
		_, log := Do(t, "GET", c.Overlord+"/druid/indexer/v1/task/"+url.PathEscape(id)+"/log?offset=-8000", nil)
		t.Fatalf("realdruid: task %s: %s (%s); end of its log:\n%s", id, status, errMsg, log)
	}
}

// UsedSegments reads dataSource's used segments from druid_segments; with Derby, which nothing of ours reads, from
// the Coordinator's view of the metadata store.
func (c *Cluster) UsedSegments(t testing.TB, dataSource string) []Segment {
	t.Helper()
	if c.PGURL == "" {
		return c.coordinatorSegments(t, dataSource)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.PGURL)
	if err != nil {
		t.Fatalf("realdruid: connecting to the cluster's metadata store %s: %v", c.PGURL, err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT payload FROM druid_segments WHERE datasource = $1 AND used ORDER BY id`, dataSource)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil // no task has published yet: the Overlord creates the table on first use
		}
		t.Fatalf("realdruid: reading druid_segments: %v", err)
	}
	var out []Segment
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var s Segment
		if err := json.Unmarshal(payload, &s); err != nil {
			t.Fatalf("realdruid: a druid_segments payload is not a DataSegment: %v: %s", err, payload)
		}
		s.Raw = payload
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *Cluster) coordinatorSegments(t testing.TB, dataSource string) []Segment {
	t.Helper()
	code, b := Do(t, "GET", c.Coordinator+"/druid/coordinator/v1/metadata/datasources/"+url.PathEscape(dataSource)+"/segments?full", nil)
	if code == http.StatusNotFound || code == http.StatusNoContent {
		return nil
	}
	var raws []json.RawMessage
	if code != 200 || json.Unmarshal(b, &raws) != nil {
		t.Fatalf("realdruid: the Coordinator's used segments of %s: HTTP %d: %s", dataSource, code, truncate(b, 500))
	}
	out := make([]Segment, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatalf("realdruid: the Coordinator lists a segment that is not a DataSegment: %v: %s", err, raw)
		}
		out[i].Raw = raw
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MarkUnused marks every segment of dataSource unused (the Coordinator then drops them from every server).
func (c *Cluster) MarkUnused(t testing.TB, dataSource string) {
	t.Helper()
	code, b := Do(t, "DELETE", c.Coordinator+"/druid/coordinator/v1/datasources/"+url.PathEscape(dataSource), nil)
	if code/100 != 2 && code != http.StatusNotFound {
		t.Errorf("realdruid: marking %s unused: HTTP %d: %s", dataSource, code, truncate(b, 500))
	}
}

// MarkSegmentUnused marks one segment unused through the Coordinator (the Coordinator then drops it from every
// server, unless coordination is paused).
func (c *Cluster) MarkSegmentUnused(t testing.TB, dataSource, segmentID string) {
	t.Helper()
	call(t, "DELETE", c.Coordinator+"/druid/coordinator/v1/datasources/"+url.PathEscape(dataSource)+"/segments/"+url.PathEscape(segmentID), nil, nil)
}

// PauseCoordination pauses the Coordinator's duties (its dynamic config pauseCoordination: no loads, drops or
// balancing), so that a test can plant a state the Coordinator would otherwise repair within a period; it resumes
// them when the test ends.
func (c *Cluster) PauseCoordination(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { c.SetDynamicConfig(t, map[string]any{"pauseCoordination": false}) })
	c.SetDynamicConfig(t, map[string]any{"pauseCoordination": true})
}

// DeleteObject deletes key from the cluster's S3 bucket, as an operator's mistake or a lifecycle rule would.
func (c *Cluster) DeleteObject(t testing.TB, key string) {
	t.Helper()
	if c.Storage != "s3" {
		t.Fatalf("realdruid: Druid %s runs on %s deep storage, not S3", c.Version, c.Storage)
	}
	b := testenv.S3Bucket{Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Region: c.S3Region, Bucket: c.Bucket}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.Client(t).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("realdruid: deleting s3://%s/%s: %v", c.Bucket, key, err)
	}
}

// ---- Coordinator -----------------------------------------------------------------------------------------------

// LoadForever is a loadForever rule with replicas per tier.
func LoadForever(tiers map[string]int) map[string]any {
	return map[string]any{"type": "loadForever", "tieredReplicants": tiers}
}

// LoadByInterval is a loadByInterval rule for interval (start/end) with replicas per tier.
func LoadByInterval(interval string, tiers map[string]int) map[string]any {
	return map[string]any{"type": "loadByInterval", "interval": interval, "tieredReplicants": tiers}
}

// DropForever is a dropForever rule.
func DropForever() map[string]any { return map[string]any{"type": "dropForever"} }

// SetRules replaces dataSource's retention rules ("_default" for the cluster's default rules).
func (c *Cluster) SetRules(t testing.TB, dataSource string, rules ...map[string]any) {
	t.Helper()
	if rules == nil {
		rules = []map[string]any{}
	}
	call(t, "POST", c.Coordinator+"/druid/coordinator/v1/rules/"+url.PathEscape(dataSource), rules, nil)
}

// LoadStatus is the Coordinator's percentage of dataSource's used segments that are loaded somewhere, and
// whether the Coordinator lists dataSource at all.
func (c *Cluster) LoadStatus(t testing.TB, dataSource string) (float64, bool) {
	t.Helper()
	var m map[string]float64
	call(t, "GET", c.Coordinator+"/druid/coordinator/v1/loadstatus", nil, &m)
	v, ok := m[dataSource]
	return v, ok
}

// Server is one data server as the Coordinator's /servers?simple lists it.
type Server struct {
	Host     string `json:"host"`
	Tier     string `json:"tier"`
	Type     string `json:"type"`
	Priority int    `json:"priority"`
	CurrSize int64  `json:"currSize"`
	MaxSize  int64  `json:"maxSize"`
}

// Servers lists the data servers the Coordinator sees.
func (c *Cluster) Servers(t testing.TB) []Server {
	t.Helper()
	var out []Server
	call(t, "GET", c.Coordinator+"/druid/coordinator/v1/servers?simple", nil, &out)
	return out
}

// Server returns the data server host (host:port) as the Coordinator sees it, and whether it sees it.
func (c *Cluster) Server(t testing.TB, host string) (Server, bool) {
	t.Helper()
	for _, s := range c.Servers(t) {
		if s.Host == host {
			return s, true
		}
	}
	return Server{}, false
}

// ServerSegments lists the ids of the segments the Coordinator sees on host.
func (c *Cluster) ServerSegments(t testing.TB, host string) []string {
	t.Helper()
	code, b := Do(t, "GET", c.Coordinator+"/druid/coordinator/v1/servers/"+url.PathEscape(host)+"/segments", nil)
	if code == http.StatusNotFound {
		return nil
	}
	if code != 200 {
		t.Fatalf("realdruid: the Coordinator's segments of %s: HTTP %d: %s", host, code, truncate(b, 500))
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		t.Fatalf("realdruid: the Coordinator's segments of %s: %v: %s", host, err, truncate(b, 500))
	}
	sort.Strings(ids)
	return ids
}

// DynamicConfig is the Coordinator's dynamic configuration.
func (c *Cluster) DynamicConfig(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	call(t, "GET", c.Coordinator+"/druid/coordinator/v1/config", nil, &m)
	return m
}

// SetDynamicConfig changes the given members of the Coordinator's dynamic configuration, keeping the others.
func (c *Cluster) SetDynamicConfig(t testing.TB, changes map[string]any) {
	t.Helper()
	m := c.DynamicConfig(t)
	for k, v := range changes {
		m[k] = v
	}
	call(t, "POST", c.Coordinator+"/druid/coordinator/v1/config", m, nil)
}

// Leader is the URL of the current Coordinator leader, and Overlord leader when overlord is true.
func (c *Cluster) Leader(t testing.TB, overlord bool) string {
	t.Helper()
	path := "/druid/coordinator/v1/leader"
	if overlord {
		path = "/druid/indexer/v1/leader"
	}
	code, b := Do(t, "GET", c.Coordinator+path, nil)
	if code != 200 {
		t.Fatalf("realdruid: GET %s: HTTP %d: %s", path, code, truncate(b, 500))
	}
	return strings.TrimSpace(string(b))
}

// ---- Broker ----------------------------------------------------------------------------------------------------

// SQL runs a Druid SQL query on the Broker and returns its rows as objects.
func (c *Cluster) SQL(t testing.TB, query string, params ...any) []map[string]any {
	t.Helper()
	body := map[string]any{"query": query, "resultFormat": "object"}
	if len(params) > 0 {
		ps := make([]map[string]any, len(params))
		for i, p := range params {
			typ := "VARCHAR"
			switch p.(type) {
			case int, int64:
				typ = "BIGINT"
			case float64:
				typ = "DOUBLE"
			}
			ps[i] = map[string]any{"type": typ, "value": p}
		}
		body["parameters"] = ps
	}
	var rows []map[string]any
	call(t, "POST", c.Broker+"/druid/v2/sql", body, &rows)
	return rows
}

// Native sends a native query to the Broker and returns the status and the raw answer.
func (c *Cluster) Native(t testing.TB, query any) (int, []byte) {
	t.Helper()
	return Do(t, "POST", c.Broker+"/druid/v2/", query)
}
