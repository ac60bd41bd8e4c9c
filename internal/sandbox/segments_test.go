package sandbox

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"testing"
)

func TestIndexZipLayout(t *testing.T) {
	data, size, err := IndexZip(1, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if f.Flags&0x8 == 0 {
			t.Errorf("%s has no data descriptor; Java's ZipOutputStream streams with one", f.Name)
		}
	}
	if want := "[00000.smoosh factory.json meta.smoosh version.bin]"; fmt.Sprint(names) != want {
		t.Fatalf("entries %v, want %s", names, want)
	}
	if total != size {
		t.Fatalf("files add up to %d bytes, IndexZip said %d", total, size)
	}
	if len(data) >= int(size)/2 {
		t.Fatalf("archive of %d bytes for %d bytes of data: column data should compress", len(data), size)
	}
}

func TestKeyAsDruidPushes(t *testing.T) {
	s := Segment("wikipedia", 0, 2, 4, "b", "druid/segments", 10)
	want := `{"type":"s3_zip","bucket":"b","key":"druid/segments/wikipedia/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/2025-10-01T12:00:00.000Z/2/index.zip","S3Schema":"s3n"}`
	if got := string(s.LoadSpec); got != want {
		t.Fatalf("loadSpec = %s, want %s", got, want)
	}
}
