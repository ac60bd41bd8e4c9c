package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// List streams every object under a prefix across pages, in key order, retries a failed page, stops at the
// callback's error, and names a missing bucket.
func TestListObjects(t *testing.T) {
	b := testenv.S3(t)
	var want []string
	for i := range 23 {
		key := fmt.Sprintf("%s%02d/index.zip", druidKey, i)
		b.Put(t, key, []byte(strings.Repeat("x", i)))
		want = append(want, key)
	}
	b.Put(t, "elsewhere/index.zip", []byte("y"))
	opts, _ := s3Options(t, b)
	opts, proxy := proxied(t, opts)
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p.listPageSize = 10 // three pages
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The second page fails once with a 503 and is asked again.
	pages := 0
	proxy.Add(faultproxy.Rule{Method: http.MethodGet, Times: 1, Match: func(r *http.Request) bool {
		if r.URL.Query().Has("list-type") && r.URL.Query().Has("continuation-token") {
			pages++
			return true
		}
		return false
	}, Fault: faultproxy.Fault{Status: 503}})
	var got []string
	var sizes int64
	start := time.Now().Add(-time.Hour)
	err = p.ListObjects(ctx, b.Bucket, druidKey, func(o Object) error {
		got = append(got, o.Key)
		sizes += o.Size
		if o.LastModified.Before(start) {
			t.Errorf("%s: last modified %v, before the test began", o.Key, o.LastModified)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || sizes != 22*23/2 {
		t.Fatalf("listed %d objects (%d bytes): %v", len(got), sizes, got)
	}
	if pages != 1 {
		t.Errorf("the faulty page was asked %d times before the fault, want 1", pages)
	}

	// The whole bucket with an empty prefix; the callback's error ends the listing as it is.
	stop := errors.New("enough")
	n := 0
	err = p.List(ctx, b.Bucket, "", func(key string, size int64) error {
		if n++; n == 12 {
			return stop
		}
		return nil
	})
	if err != stop || n != 12 {
		t.Fatalf("List: %v after %d objects, want the callback's error after 12", err, n)
	}

	err = p.List(ctx, b.Bucket+"-gone", "", func(string, int64) error { return nil })
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "listing objects: ") ||
		!strings.Contains(err.Error(), b.Bucket+"-gone") {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestObjectLocationAndKeys(t *testing.T) {
	spec, err := ParseLoadSpec([]byte(`{"type":"s3_zip","bucket":"b","key":"base/ds/x/0/index.zip","S3Schema":"s3n"}`))
	if err != nil {
		t.Fatal(err)
	}
	if bucket, key, ok := ObjectLocation(spec); !ok || bucket != "b" || key != "base/ds/x/0/index.zip" {
		t.Errorf("ObjectLocation = %q %q %v", bucket, key, ok)
	}
	for _, s := range []LoadSpec{Tombstone{}, Local{Path: "/x/index.zip"}} {
		if _, _, ok := ObjectLocation(s); ok {
			t.Errorf("%v has no S3 object", s)
		}
	}
	for in, want := range map[string]string{"": "", "druid": "druid/", "a/b/": "a/b//"} {
		if got := StoragePrefix(in); got != want {
			t.Errorf("StoragePrefix(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"a/b/index.zip": "a/b/", "a/b/": "a/b/", "index.zip": ""} {
		if got := KeyDir(in); got != want {
			t.Errorf("KeyDir(%q) = %q, want %q", in, got, want)
		}
	}
}
