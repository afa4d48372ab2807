package tiny

import (
	"testing"

	"github.com/swerl/swerl/policy/dapo"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graphDAPOLoss64 evaluates dapoLoss in a float64 graph with token-mean weights and
// returns the loss and its gradient in newLP.
func graphDAPOLoss64(t *testing.T, newLP, oldLP, adv []float64, c dapo.LossConfig) (float64, []float64) {
	t.Helper()
	n := len(newLP)
	g := G.NewGraph()
	vec := func(name string, data []float64) *G.Node {
		return G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithBacking(data), tensor.WithShape(n))))
	}
	fill := func(f func(i int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	lrB, dual := 1e300, -1e300
	if c.LogRatioClamp > 0 {
		lrB = c.LogRatioClamp
	}
	x := vec("new", append([]float64(nil), newLP...))
	in := dapoNodes{
		old: vec("old", oldLP), adv: vec("adv", adv),
		w:    vec("w", fill(func(int) float64 { return 1 / float64(n) })),
		lrLo: vec("lrLo", fill(func(int) float64 { return -lrB })),
		lrHi: vec("lrHi", fill(func(int) float64 { return lrB })),
		rLo:  vec("rLo", fill(func(int) float64 { return 1 - c.EpsLow })),
		rHi:  vec("rHi", fill(func(int) float64 { return 1 + c.EpsHigh })),
		dual: vec("dual", fill(func(i int) float64 {
			if c.DualClip > 0 && adv[i] < 0 {
				return c.DualClip * adv[i]
			}
			return dual
		})),
	}
	loss, err := dapoLoss(x, in)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return loss.Value().Data().(float64), append([]float64(nil), grads[0].Value().Data().([]float64)...)
}
