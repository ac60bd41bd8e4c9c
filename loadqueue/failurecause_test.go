package loadqueue

import (
	"errors"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// A load failing on a hostile 1 MB dataSource name answers the Coordinator with a bounded cause that keeps the
// start of the error and its innermost reason.
func TestFailureCauseIsCapped(t *testing.T) {
	name := strings.Repeat("x", 1<<20)
	st := failed(segments.NormalLoading, errors.New("pull "+name+": object missing"))
	if len(st.FailureCause) > maxFailureCause {
		t.Fatalf("cause is %d bytes, want at most %d", len(st.FailureCause), maxFailureCause)
	}
	if !strings.HasPrefix(st.FailureCause, "pull xxx") || !strings.HasSuffix(st.FailureCause, ": object missing") {
		t.Fatalf("cause lost its start or its reason: %.80q…", st.FailureCause)
	}
}
