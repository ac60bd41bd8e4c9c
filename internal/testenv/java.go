package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// JavaClasspath returns the classpath of a real Java peer for interop tests: Apache Curator 5.4 (client,
// framework, recipes, x-discovery) with the ZooKeeper client, Guava and slf4j it needs, Jackson 2 (core,
// annotations, databind, dataformat-smile) and Joda-Time, all from Debian's /usr/share/java. The test fails if a
// jar or `java` is missing.
func JavaClasspath(t testing.TB) string {
	t.Helper()
	Integration(t)
	cp := setting(t, "Java classpath", EnvJavaCP)
	var missing []string
	for _, jar := range filepath.SplitList(cp) {
		if _, err := os.Stat(jar); err != nil {
			missing = append(missing, jar)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("testenv: Java classpath: missing %s.\n\tfix: %s (it installs the Debian packages of Curator, Jackson and Joda-Time).",
			strings.Join(missing, ", "), fix)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("testenv: Java classpath: %v.\n\tfix: install a Java runtime (Java 17); %s.", err, fix)
	}
	return cp
}
