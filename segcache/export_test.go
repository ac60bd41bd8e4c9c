package segcache

// SetDiskSpace gives a test's prefetcher a fake disk: total and free bytes of the filesystem holding a location.
func SetDiskSpace(o *PrefetchOptions, f func(path string) (total, free uint64, err error)) {
	o.statfs = func(p string) (diskSpace, error) {
		total, free, err := f(p)
		return diskSpace{Total: total, Free: free}, err
	}
}

// SyncLog is a log output safe for concurrent writes.
type SyncLog = syncLog
