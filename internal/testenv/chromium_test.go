package testenv

import (
	"image/png"
	"os"
	"strings"
	"testing"
)

func TestChromiumRendersAPage(t *testing.T) {
	page := t.TempDir() + "/page.html"
	if err := os.WriteFile(page, []byte(`<!doctype html><body style="background:#123456"><p id="n">42</p>`+
		`<script>document.getElementById("n").textContent = 6 * 7 + 1</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(Screenshot(t, "file://"+page, 320, 200))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 200 {
		t.Errorf("screenshot is %dx%d, want 320x200", b.Dx(), b.Dy())
	}
	if dom := DumpDOM(t, "file://"+page); !strings.Contains(dom, ">43<") {
		t.Errorf("the DOM after scripts ran lacks 43:\n%s", dom)
	}
}
