package actors

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: Initial doubled per failure up to Max, then spread by
// ±Jitter (a fraction) so that a thousand episodes hit by the same outage do not retry
// in lock step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// DefaultBackoff is 500ms doubling to 30s with 20% jitter.
func DefaultBackoff() Backoff {
	return Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
}

// Delay is the wait before retry number failures (1 for the first retry).
func (b Backoff) Delay(failures int, rng *rand.Rand) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	if b.Jitter > 0 && rng != nil {
		f := 1 + b.Jitter*(2*rng.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return d
}
