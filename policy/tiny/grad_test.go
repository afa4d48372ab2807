package tiny

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradientsMatchFiniteDifferences checks the gorgonia gradients (parameters,
// and the embedding scatter) against central differences of the float64 reference.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	m := testModel(t, smallCfg)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range m.p.data {
		m.p.data[i] += float32(rng.NormFloat64() * 0.3)
	}
	const b = 4
	w := smallCfg.Window
	wins, targets := randomWindows(rng, b, w, m.tok.Size())
	weights := []float32{0.25, 0.5, 0.125, 0.125}
	gr, err := newGraph(m, b, modeSFT)
	if err != nil {
		t.Fatal(err)
	}
	copy(gr.rows.w, weights)
	grad := make([]float32, len(m.p.data))
	var out stepOut
	if err := gr.train(wins, targets, grad, &out); err != nil {
		t.Fatal(err)
	}
	ref := newRef(m)
	loss := func() float64 {
		var l float64
		for r := 0; r < b; r++ {
			l -= float64(weights[r]) * ref.logp(wins[r*w : (r+1)*w])[targets[r]]
		}
		return l
	}
	if got, want := out.loss, loss(); math.Abs(got-want) > 1e-4 {
		t.Fatalf("loss %v, reference %v", got, want)
	}
	// Every parameter block, a few coordinates each; for E, the rows of the ids used.
	var coords []int
	for i, s := range m.p.specs {
		for k := 0; k < 6; k++ {
			j := rng.IntN(s.size())
			if i == pE || i == pS {
				id := int(wins[rng.IntN(len(wins))])
				if id == int(Pad) {
					id = int(wins[w-1])
				}
				j = id*s.cols + rng.IntN(s.cols)
			}
			coords = append(coords, s.off+j)
		}
	}
	const eps = 1e-4
	for _, c := range coords {
		orig := ref.data[c]
		ref.data[c] = orig + eps
		up := loss()
		ref.data[c] = orig - eps
		down := loss()
		ref.data[c] = orig
		fd := (up - down) / (2 * eps)
		got := float64(grad[c])
		if math.Abs(got-fd) > 2e-3*math.Max(1, math.Abs(fd)) {
			t.Errorf("d loss / d %s = %v, finite difference %v", m.p.nameAt(c), got, fd)
		}
	}
}
