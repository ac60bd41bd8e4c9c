package configs

import "strings"

// PrefetchWindowAuto is druid.sidecar.prefetch.maxBytes when no source sets it ("auto"): the prefetcher then sizes
// the window of each location from its disk, what the Historical may still need there and the free space it keeps.
const PrefetchWindowAuto ByteSize = -1

// prefetchWindow is druid.sidecar.prefetch.maxBytes: a size in bytes, or "auto" (PrefetchWindowAuto), kept apart
// from the plain byte sizes because only this key has a value that is not a size.
func prefetchWindow(ptr func(*Config) *ByteSize) kind {
	bytes := byteSize(ptr).(field[ByteSize])
	return field[ByteSize]{
		name: "bytes|auto",
		parse: func(raw string, lk *lookups) (ByteSize, error) {
			if strings.EqualFold(strings.TrimSpace(raw), "auto") {
				return PrefetchWindowAuto, nil
			}
			return bytes.parse(raw, lk)
		},
		format: func(b ByteSize) string {
			if b == PrefetchWindowAuto {
				return "auto"
			}
			return b.String()
		},
		ptr: ptr,
	}
}
