package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// e2eAnnouncedLoad is the load request the node announces for id, and its JSON, as a Coordinator reads them.
func e2eAnnouncedLoad(t *testing.T, n *e2eNode, id segments.SegmentID) (segments.ChangeRequest, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	loads, err := druidpeer.AnnouncedLoads(ctx, &http.Client{}, n.URL)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := loads[id]
	if !ok {
		t.Fatalf("segment %s is not announced", id)
	}
	return a.Request, a.JSON
}

// TestServeE2EPartialLoad: serve takes a Druid 38+ Coordinator's wrapped (partial-load) request, pulls the
// delegate once, and announces the wrapper's fingerprint with loadedBytes = size, in the inventory and again after
// a restart, without pulling again. Its ZooKeeper batch znodes carry the segment as Java's announcer writes a
// DataSegment: the wrapper as its loadSpec, and no fingerprint or loadedBytes (DataSegment has neither).
func TestServeE2EPartialLoad(t *testing.T) {
	n := newE2ENode(t, nodeOpts{})
	s := n.PutSegment("partial", 0, 32<<10)
	const fingerprint = "v1:e2e0123456789ab"
	w := *s
	w.LoadSpec = json.RawMessage(`{"type":"partialFullSegment","delegate":` + string(s.LoadSpec) + `,"fingerprint":"` + fingerprint + `"}`)
	p := n.StartReady()
	peon, _ := n.coordinator(2, 5*time.Second)
	peon.Load(&w)
	drain(t, peon, 20*time.Second)
	if st := mustResult(t, peon, segments.ActionLoad, &w); st.State != "SUCCESS" {
		t.Fatalf("wrapped load: %s %s", st.State, causeOf(st))
	}
	got, before := e2eAnnouncedLoad(t, n, w.ID())
	if got.Fingerprint == nil || *got.Fingerprint != fingerprint || got.LoadedBytes == nil || *got.LoadedBytes != w.Size {
		t.Fatalf("announced fingerprint %v, loadedBytes %v; want %q, %d", got.Fingerprint, got.LoadedBytes, fingerprint, w.Size)
	}
	gets := n.S3Gets(e2eS3Key(s))
	if gets < 1 {
		t.Fatalf("the delegate was not read from S3 (%d GETs)", gets)
	}
	// The batch znode is written right after the SUCCESS, as Java's announcer writes it in the background.
	var batches map[string]zkNode
	eventually(t, 5*time.Second, "a batch znode", func() error {
		var err error
		if batches, err = n.Batches(); err == nil && len(batches) == 0 {
			err = errors.New("none yet")
		}
		return err
	})
	znodes := 0
	for name, b := range batches {
		data, err := decodeZNode(b.Data)
		if err != nil {
			t.Fatal(err)
		}
		znodes++
		if !bytes.Contains(data, []byte(`"loadSpec":`+string(w.LoadSpec))) || bytes.Contains(data, []byte(`"loadedBytes"`)) {
			t.Errorf("batch znode %s: %.400s; want the segment with the wrapper as its loadSpec and no loadedBytes", name, data)
		}
	}
	if znodes == 0 {
		t.Error("no batch znode announces the segment")
	}

	p.Stop()
	n.StartReady()
	if _, after := e2eAnnouncedLoad(t, n, w.ID()); !bytes.Equal(after, before) {
		t.Errorf("after a restart the announcement is\n%s\nbefore it was\n%s", after, before)
	}
	if ids := n.fullSync(t); strings.Join(ids, ",") != w.ID().String() {
		t.Errorf("a Broker's full sync lists %v after the restart", ids)
	}
	if got := n.S3Gets(e2eS3Key(s)); got != gets {
		t.Errorf("the restart read S3 again (%d GETs, %d before)", got, gets)
	}
}
