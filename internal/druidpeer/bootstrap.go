package druidpeer

import (
	"net/http"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// SetBootstrapSegments sets what POST /druid/coordinator/v1/metadata/bootstrapSegments answers: the segments of
// the Coordinator's broadcast rules, loadSpec included, as MetadataResource lists them for a starting data server.
func (c *CoordinatorAPI) SetBootstrapSegments(segs ...*segments.DataSegment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bootstrap = append([]*segments.DataSegment(nil), segs...)
}

// bootstrapSegments answers MetadataResource.getBootstrapSegments: a JSON array of DataSegment, written whole.
func (c *CoordinatorAPI) bootstrapSegments(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	segs := c.bootstrap
	c.mu.Unlock()
	b := []byte{'['}
	for i, s := range segs {
		if i > 0 {
			b = append(b, ',')
		}
		js, err := s.MarshalJSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b = append(b, js...)
	}
	b = append(b, ']')
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
