package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: environ}
	code := run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"-h"}, exitOK, "Commands:"},
		{[]string{"version"}, exitOK, "druid-sidecar "},
		{[]string{"--version"}, exitOK, "druid-sidecar "},
		{[]string{"version", "-h"}, exitOK, ""},
		{[]string{"config", "-h"}, exitOK, ""},
		{[]string{"config", "print", "-h"}, exitOK, ""},
		{[]string{"help", "config"}, exitOK, ""},
	} {
		code, stdout, _ := runCLI(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.out) {
			t.Errorf("%v: exit %d, stdout %q; want exit %d containing %q", tc.args, code, stdout, tc.code, tc.out)
		}
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "confgi")
	if code != exitBadInput || !strings.Contains(stderr, `did you mean "config"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI(t, nil); code != exitBadInput {
		t.Fatalf("no command: exit %d, want %d", code, exitBadInput)
	}
}

// TestConfigPrintHistorical resolves a real Historical's two properties files plus the Docker image's druid_*
// variables, and checks values, sources and that no secret is printed.
func TestConfigPrintHistorical(t *testing.T) {
	environ := []string{
		"PGHOST=127.0.0.21",
		"METADATA_PASSWORD=pg-secret-1",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=s3-secret-2",
		"DRUID_SYSTEM_PASSWORD=system-secret-3",
		"DRUID_ADMIN_PASSWORD=admin-secret-4",
		"druid_host=127.0.0.5",
		"druid_server_tier=_default_tier",
	}
	code, stdout, stderr := runCLI(t, environ, "config", "print", "--format", "json",
		"--properties", "../../configs/testdata/_common/common.runtime.properties",
		"--properties", "../../configs/testdata/historical/runtime.properties",
		"--set", "druid.server.priority=3")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, secret := range []string{"pg-secret-1", "s3-secret-2", "system-secret-3", "admin-secret-4", "AKIAEXAMPLE"} {
		if strings.Contains(stdout, secret) {
			t.Errorf("config print shows the secret %q", secret)
		}
	}
	var entries []struct{ Key, Value, Origin string }
	if err := json.Unmarshal([]byte(stdout), &entries); err != nil {
		t.Fatalf("config print --format json is not JSON: %v", err)
	}
	got := map[string][2]string{}
	for _, e := range entries {
		got[e.Key] = [2]string{e.Value, e.Origin}
	}
	for key, want := range map[string][2]string{
		"druid.host":                      {"127.0.0.5", "env:druid_host"},
		"druid.server.tier":               {"_default_tier", "env:druid_server_tier"},
		"druid.server.priority":           {"3", "flag:--set"},
		"druid.plaintextPort":             {"8083", "file:../../configs/testdata/historical/runtime.properties:2"},
		"druid.s3.secretKey":              {"<redacted>", "file:../../configs/testdata/_common/common.runtime.properties:26"},
		"druid.zk.paths.base":             {"/druid", "file:../../configs/testdata/_common/common.runtime.properties:13"},
		"druid.announcer.segmentsPerNode": {"50", "default"},
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
}

func TestConfigPrintErrorsExit2(t *testing.T) {
	code, _, stderr := runCLI(t, []string{}, "config", "print",
		"--set", "druid.sidecar.cacheLayuot=flat", "--set", `druid.segmentCache.locations=[{"path":"/x","maxSize":"12zz"}]`)
	if code != exitBadInput {
		t.Fatalf("exit %d, want 2", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per problem, got:\n%s", stderr)
	}
	if !strings.Contains(stderr, "druid.sidecar.cacheLayout") || !strings.Contains(stderr, "12zz") {
		t.Fatalf("stderr does not name the problems:\n%s", stderr)
	}
}
