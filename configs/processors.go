package configs

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Processors counts the CPUs this process may use the way the JVM's Runtime.availableProcessors() does on Linux,
// so that the thread-count defaults derived from it (numLoadingThreads is max(1, processors/6)) are what a Java
// Historical in the same container reports in loadCapabilities: the CPUs of the affinity mask, bounded by the
// cgroup's CPU quota rounded up (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over cpu.cfs_period_us), the lowest
// quota from the process's cgroup up to the controller's mount, as current JDKs read it. CPU shares are not read:
// JDK 19 (and 17.0.5, 11.0.17) stopped counting them.
func Processors() int { return processors(cgroupRoot, affinityCPUs()) }

// cgroupRoot is where /proc and /sys are found, and affinityCPUs the size of the affinity mask (runtime.NumCPU
// reads it with sched_getaffinity, as the JVM does); tests point them at a fake container.
var (
	cgroupRoot   = "/"
	affinityCPUs = runtime.NumCPU
)

// processors is Processors reading /proc/self/cgroup, /proc/self/mountinfo and the cgroup files under root, with
// cpus the size of the affinity mask.
func processors(root string, cpus int) int {
	cpus = max(1, cpus)
	dirs := cpuCgroupDirs(root)
	limit := math.Inf(1)
	for _, d := range dirs {
		if q, ok := d.quota(); ok {
			limit = min(limit, q)
		}
	}
	if math.IsInf(limit, 1) {
		return cpus
	}
	// The JVM rounds a fractional quota up (1.5 CPUs is 2), and never reports fewer than one CPU.
	return max(1, min(cpus, int(math.Ceil(limit))))
}

// cgroupDir is one directory of the CPU controller, from the process's cgroup up to the controller's mount point.
type cgroupDir struct {
	path string
	v2   bool
}

// quota is the directory's CPU limit in CPUs, false when it has none (or it cannot be read, which the JVM also
// takes as no limit).
func (d cgroupDir) quota() (float64, bool) {
	var quotaText, periodText string
	if d.v2 {
		// cpu.max is "<quota> <period>", the quota "max" when there is no limit.
		b, err := os.ReadFile(filepath.Join(d.path, "cpu.max"))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, false
		}
		quotaText, periodText = f[0], f[1]
	} else {
		q, err1 := os.ReadFile(filepath.Join(d.path, "cpu.cfs_quota_us"))
		p, err2 := os.ReadFile(filepath.Join(d.path, "cpu.cfs_period_us"))
		if err1 != nil || err2 != nil {
			return 0, false
		}
		quotaText, periodText = strings.TrimSpace(string(q)), strings.TrimSpace(string(p))
	}
	quota, err1 := strconv.ParseInt(quotaText, 10, 64)
	period, err2 := strconv.ParseInt(periodText, 10, 64)
	// "max" (v2) and -1 (v1) mean no quota; a zero period would be a kernel bug.
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return float64(quota) / float64(period), true
}

// cpuCgroupDirs lists the CPU controller's directories of this process, its own cgroup first, up to the mount point
// of the controller; nil when there is no CPU controller to read. A v1 cpu controller wins over the unified
// hierarchy, as in the JVM, which reads v2 only when no v1 controller is mounted.
func cpuCgroupDirs(root string) []cgroupDir {
	memberships := readCgroupMemberships(filepath.Join(root, "proc/self/cgroup"))
	mounts := readCgroupMounts(filepath.Join(root, "proc/self/mountinfo"))
	for _, wantV2 := range []bool{false, true} {
		cg, ok := memberships[wantV2]
		if !ok {
			continue
		}
		for _, m := range mounts {
			if m.v2 != wantV2 {
				continue
			}
			rel, ok := cgroupRelative(m.root, cg)
			if !ok {
				continue
			}
			// From the process's own cgroup up to the mount point: a parent's quota limits its children too.
			var dirs []cgroupDir
			for {
				dirs = append(dirs, cgroupDir{path: filepath.Join(root, m.mountPoint, rel), v2: wantV2})
				if rel == "/" {
					return dirs
				}
				rel = path.Dir(rel)
			}
		}
	}
	return nil
}

// cgroupRelative is the process's cgroup path below a mount whose root (mountinfo's fourth field) is mountRoot:
// the cgroup path itself when the mount is the hierarchy's root, "/" when the mount is the process's own cgroup
// (a container's cgroup namespace or bind mount), the rest of the path when the mount is an ancestor of it.
func cgroupRelative(mountRoot, cg string) (string, bool) {
	switch {
	case mountRoot == "/":
		return path.Clean("/" + cg), true
	case mountRoot == cg:
		return "/", true
	case strings.HasPrefix(cg, mountRoot+"/"):
		return path.Clean(cg[len(mountRoot):]), true
	}
	return "", false
}

// readCgroupMemberships reads /proc/self/cgroup: the path of the v1 hierarchy holding the cpu controller (key
// false) and of the unified v2 hierarchy (key true).
func readCgroupMemberships(file string) map[bool]string {
	out := map[bool]string{}
	b, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		id, rest, ok1 := strings.Cut(line, ":")
		controllers, cg, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			continue
		}
		if id == "0" && controllers == "" {
			out[true] = cg
			continue
		}
		for c := range strings.SplitSeq(controllers, ",") {
			if c == "cpu" {
				out[false] = cg
			}
		}
	}
	return out
}

// cgroupMount is a cgroup file system mount of /proc/self/mountinfo: a v1 hierarchy with the cpu controller, or
// the unified v2 hierarchy.
type cgroupMount struct {
	root       string
	mountPoint string
	v2         bool
}

func readCgroupMounts(file string) []cgroupMount {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// id parent major:minor root mount-point options [optional fields…] - fstype source super-options
		pre, post, ok := bytes.Cut(sc.Bytes(), []byte(" - "))
		if !ok {
			continue
		}
		fields, tail := strings.Fields(string(pre)), strings.Fields(string(post))
		if len(fields) < 5 || len(tail) < 1 {
			continue
		}
		m := cgroupMount{root: unescapeMountinfo(fields[3]), mountPoint: unescapeMountinfo(fields[4])}
		switch tail[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			if len(tail) < 3 || !containsOption(tail[2], "cpu") {
				continue
			}
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

func containsOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes mountinfo's octal escapes of space, tab, newline and backslash (\040 and so on).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
