package tiny

import (
	"math"
	"math/rand/v2"
	"testing"
)

func testModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg, NewTokenizer(testWords))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var smallCfg = Config{Window: 8, Dim: 16, Heads: 2, Hidden: 24, Seed: 3}

// randomWindows draws b windows, each left-padded by a random amount and ending with a
// real token.
func randomWindows(rng *rand.Rand, b, w, vocab int) (wins, targets []int32) {
	for r := 0; r < b; r++ {
		pad := rng.IntN(w)
		for j := 0; j < w; j++ {
			if j < pad {
				wins = append(wins, Pad)
			} else {
				wins = append(wins, int32(1+rng.IntN(vocab-1)))
			}
		}
		targets = append(targets, int32(rng.IntN(vocab)))
	}
	return wins, targets
}

func TestForwardMatchesReference(t *testing.T) {
	m := testModel(t, smallCfg)
	// Make the weights less uniform than the initialisation, so that attention matters.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range m.p.data {
		m.p.data[i] += float32(rng.NormFloat64() * 0.3)
	}
	v := m.tok.Size()
	wins, targets := randomWindows(rng, 5, smallCfg.Window, v)
	logp, dist, err := m.Forward(wins, targets)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef(m)
	for r := range targets {
		want := ref.logp(wins[r*smallCfg.Window : (r+1)*smallCfg.Window])
		var sum float64
		for k := 0; k < v; k++ {
			got := float64(dist[r*v+k])
			if math.Abs(got-want[k]) > 1e-4 {
				t.Fatalf("row %d token %d: log-prob %v, reference %v", r, k, got, want[k])
			}
			sum += math.Exp(got)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("row %d: probabilities sum to %v", r, sum)
		}
		if logp[r] != dist[r*v+int(targets[r])] {
			t.Errorf("row %d: target log-prob %v, distribution says %v", r, logp[r], dist[r*v+int(targets[r])])
		}
	}
	before := append([]float32(nil), m.p.data...)
	again, _, err := m.Forward(wins, targets)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i] != logp[i] {
			t.Fatalf("second run differs at row %d: %v vs %v", i, again[i], logp[i])
		}
	}
	for i := range before {
		if before[i] != m.p.data[i] {
			t.Fatalf("Forward changed parameter %s", m.p.nameAt(i))
		}
	}
}
