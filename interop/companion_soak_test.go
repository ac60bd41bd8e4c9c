//go:build soak

package interop

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestCompanionSoak: COMPANION_SOAK_ROUNDS refills with the companion, each with random timing (the companion
// starting up to 5 s before or after the Historical, a random poll period and per-connection rate), every round
// held to the same checks against one run without it (make soak, under the soak build tag; not in the test command). Without COMPANION_SOAK_ROUNDS it runs 10 rounds.
func TestCompanionSoak(t *testing.T) {
	rounds, err := strconv.Atoi(os.Getenv("COMPANION_SOAK_ROUNDS"))
	if err != nil || rounds <= 0 {
		rounds = 10
	}
	f := newRefillFixture(t, 20, 200)
	without := f.refill(t, refillOptions{rate: 16 << 10})
	for i := 0; i < rounds && !t.Failed(); i++ {
		o := refillOptions{
			companion: true,
			rate:      int64(4<<10 + rand.IntN(60<<10)),
			lead:      time.Duration(rand.IntN(10000)-5000) * time.Millisecond,
			poll:      []string{"PT1S", "PT2S", "PT5S"}[rand.IntN(3)],
		}
		with := f.refill(t, o)
		f.checkRefill(t, with, without)
		t.Logf("round %d (rate %d B/s, companion lead %v, poll %s): %v, %d of %d placed by the companion, %d GETs by the Historical",
			i, o.rate, o.lead, o.poll, with.took.Round(time.Millisecond), len(with.prefetched), len(f.want), sum(with.javaGets))
	}
}
