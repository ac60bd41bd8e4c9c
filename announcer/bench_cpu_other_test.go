//go:build !unix

package announcer

import "time"

// processCPU is not measured here: the CPU metrics of BenchmarkAnnounceBootstrap read 0.
func processCPU() time.Duration { return 0 }
