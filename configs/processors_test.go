package configs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fakeCgroupTree writes /proc/self/cgroup, /proc/self/mountinfo and cgroup files under a temporary root, as a
// container's kernel shows them.
func fakeCgroupTree(t *testing.T, cgroup, mountinfo string, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	all := map[string]string{"proc/self/cgroup": cgroup, "proc/self/mountinfo": mountinfo}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	// A pure cgroup v2 host with cgroup namespaces: the container's cgroup is the mount's root.
	mountinfoV2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
	// A cgroup v1 host (hybrid: the unified hierarchy is mounted too, without controllers), as Docker on an older
	// distribution shows it.
	mountinfoV1 = "31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755\n" +
		"32 31 0:29 /kubepods/pod1/ctr /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct\n" +
		"33 31 0:30 /kubepods/pod1/ctr /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	cgroupV1 = "12:memory:/kubepods/pod1/ctr\n4:cpu,cpuacct:/kubepods/pod1/ctr\n0::/\n"
)

func TestProcessorsAsTheJVMCountsThem(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cgroup    string
		mountinfo string
		files     map[string]string
		cpus      int
		want      int
	}{
		{"v2, a pod limited to 8 CPUs on a 96-core host", "0::/\n", mountinfoV2,
			map[string]string{"sys/fs/cgroup/cpu.max": "800000 100000\n"}, 96, 8},
		{"v2, no limit", "0::/\n", mountinfoV2, map[string]string{"sys/fs/cgroup/cpu.max": "max 100000\n"}, 96, 96},
		{"v2, a fractional limit rounds up", "0::/\n", mountinfoV2,
			map[string]string{"sys/fs/cgroup/cpu.max": "150000 100000\n"}, 96, 2},
		{"v2, under a tenth of a CPU is still one", "0::/\n", mountinfoV2,
			map[string]string{"sys/fs/cgroup/cpu.max": "5000 100000\n"}, 96, 1},
		{"v2, a limit above the affinity mask", "0::/\n", mountinfoV2,
			map[string]string{"sys/fs/cgroup/cpu.max": "1600000 100000\n"}, 4, 4},
		{"v2 without cgroup namespace: the process's own cgroup under the mount", "0::/kubepods.slice/pod1/ctr\n",
			mountinfoV2, map[string]string{
				"sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max": "max 100000\n",
				"sys/fs/cgroup/kubepods.slice/pod1/cpu.max":     "300000 100000\n",
				"sys/fs/cgroup/kubepods.slice/cpu.max":          "max 100000\n",
				"sys/fs/cgroup/cpu.max":                         "max 100000\n",
			}, 96, 3},
		{"v2, the lowest quota up the hierarchy wins", "0::/a/b\n", mountinfoV2, map[string]string{
			"sys/fs/cgroup/a/b/cpu.max": "1200000 100000\n",
			"sys/fs/cgroup/a/cpu.max":   "600000 100000\n",
		}, 96, 6},
		{"v1, a quota", cgroupV1, mountinfoV1, map[string]string{
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "800000\n",
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
			"sys/fs/cgroup/cpu,cpuacct/cpu.shares":        "8192\n",
		}, 96, 8},
		{"v1, no quota (-1); shares are not counted", cgroupV1, mountinfoV1, map[string]string{
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "-1\n",
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
			"sys/fs/cgroup/cpu,cpuacct/cpu.shares":        "2048\n",
		}, 96, 96},
		{"v1 wins over the unified hierarchy of a hybrid host", cgroupV1, mountinfoV1, map[string]string{
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "250000\n",
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
			"sys/fs/cgroup/unified/cpu.max":               "100000 100000\n",
		}, 96, 3},
		{"no cgroup files at all", "", "", nil, 12, 12},
		{"an unreadable quota is no limit", "0::/\n", mountinfoV2, map[string]string{"sys/fs/cgroup/cpu.max": "garbage\n"}, 12, 12},
		{"a mount root the cgroup is not under", "0::/elsewhere\n",
			"30 23 0:26 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			map[string]string{"sys/fs/cgroup/cpu.max": "100000 100000\n"}, 12, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeCgroupTree(t, tc.cgroup, tc.mountinfo, tc.files)
			if got := processors(root, tc.cpus); got != tc.want {
				t.Errorf("processors = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestNumLoadingThreadsFollowsTheContainerLimit: a pod limited to 8 CPUs on a 96-core host gets Druid's
// max(1, 8/6) = 1 loading thread, as its Java Historical announces in loadCapabilities, not 96/6 = 16.
func TestNumLoadingThreadsFollowsTheContainerLimit(t *testing.T) {
	root := fakeCgroupTree(t, "0::/\n", mountinfoV2, map[string]string{"sys/fs/cgroup/cpu.max": "800000 100000\n"})
	if got := processors(root, 96); got != 8 {
		t.Fatalf("processors = %d, want 8", got)
	}
	oldRoot, oldCPUs := cgroupRoot, affinityCPUs
	cgroupRoot, affinityCPUs = root, func() int { return 96 }
	t.Cleanup(func() { cgroupRoot, affinityCPUs = oldRoot, oldCPUs })
	cfg, err := Load(LoadOptions{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.SegmentCache.NumLoadingThreads; got != 1 || cfg.SegmentCache.NumBootstrapThreads != 1 {
		t.Errorf("numLoadingThreads %d, numBootstrapThreads %d on a 96-core host limited to 8 CPUs; want 1 and 1",
			got, cfg.SegmentCache.NumBootstrapThreads)
	}
	t.Logf("this machine: runtime.NumCPU() = %d, Processors() = %d", runtime.NumCPU(), processors("/", runtime.NumCPU()))
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b\134c\0`); got != `/a b\c\0` {
		t.Errorf("got %q", got)
	}
}
