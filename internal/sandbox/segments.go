// Package sandbox builds the pieces of a local Druid cluster that druid-sidecar's sandbox and demo need: segments
// in Druid's index.zip layout, written to S3 deep storage as Druid's pusher lays them out (PutSegments), and the
// metadata store rows that publish them (SeedMetadata).
//
// It is test and demo support: nothing in the agent imports it.
package sandbox

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// IndexZip returns a segment archive laid out as Druid's pusher writes one (version.bin, meta.smoosh,
// 00000.smoosh, factory.json; DEFLATED entries streamed with data descriptors, as java.util.zip writes them)
// whose column data is chunkBytes of pseudo-random, compressible bytes, and the total uncompressed size of its
// files, which is what a DataSegment's size holds. The column data is not queryable; its shape is what a
// Historical's cache and druid-sidecar's checks look at.
func IndexZip(seed uint64, chunkBytes int) ([]byte, int64, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	chunk := make([]byte, chunkBytes)
	for i := 0; i < len(chunk); {
		v := byte(r.IntN(32))
		for n := 1 + r.IntN(16); n > 0 && i < len(chunk); n-- {
			chunk[i] = v
			i++
		}
	}
	return IndexZipOf(chunk, false)
}

// IndexZipOf returns a segment archive in the layout of IndexZip whose column data is chunk, and the total
// uncompressed size of its files. With level0 the entries are still DEFLATED but at level 0, which keeps writing a
// large incompressible chunk cheap (benchmarks).
func IndexZipOf(chunk []byte, level0 bool) ([]byte, int64, error) {
	version := binary.BigEndian.AppendUint32(nil, 9)
	meta := fmt.Appendf(nil, "v1,%d,1\n__time,0,0,%d\n", 2147483647, len(chunk))
	files := []struct {
		name string
		data []byte
	}{ // name order, as Druid's zip has them
		{"00000.smoosh", chunk},
		{"factory.json", []byte(`{"type":"mMapSegmentFactory"}`)},
		{"meta.smoosh", meta},
		{"version.bin", version},
	}
	var buf bytes.Buffer
	buf.Grow(len(chunk) + 1<<16)
	zw := zip.NewWriter(&buf)
	if level0 {
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.NoCompression) })
	}
	var size int64
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			return nil, 0, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, 0, err
		}
		size += int64(len(f.data))
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), size, nil
}

// Segment describes one segment of dataSource for day (days since 2025-01-01) stored in S3 under baseKey where
// Druid's S3 pusher puts it (see Key), with the loadSpec in the key order Druid publishes.
func Segment(dataSource string, day, partition, partitions int, bucket, baseKey string, size int64) *segments.DataSegment {
	bv := 9
	s := &segments.DataSegment{
		DataSource:    dataSource,
		Interval:      DayInterval(day),
		Version:       Version,
		Dimensions:    []string{"channel", "page", "user"},
		Metrics:       []string{"count", "added"},
		ShardSpec:     segments.NumberedShardSpec(partition, partitions),
		BinaryVersion: &bv,
		Size:          size,
	}
	b, _ := json.Marshal(bucket)
	k, _ := json.Marshal(Key(baseKey, s.ID()))
	s.LoadSpec = json.RawMessage(fmt.Sprintf(`{"type":"s3_zip","bucket":%s,"key":%s,"S3Schema":"s3n"}`, b, k))
	return s
}

// DayInterval is the day-long interval of day, counted from 2025-01-01.
func DayInterval(day int) segments.Interval {
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	return segments.Interval{Start: start, End: start + 86400000}
}

// Key is where Druid's S3 pusher puts a segment: <baseKey>/<dataSource>/<start>_<end>/<version>/<partition>/index.zip.
func Key(baseKey string, id segments.SegmentID) string {
	return fmt.Sprintf("%s/%s/%s_%s/%s/%d/index.zip", baseKey, id.DataSource, id.Interval.Start, id.Interval.End,
		id.Version, id.PartitionNum)
}
