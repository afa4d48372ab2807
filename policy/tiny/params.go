package tiny

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Parameter indices into params.specs. E (token embeddings), P (position
// embeddings) and S (previous-token embeddings, smeared into the keys) are gathered
// in Go (graph.load); the others are gorgonia nodes.
const (
	pE = iota
	pP
	pS
	pWq
	pWkT
	pWv
	pWo
	pW1
	pB1
	pW2
	pB2
	pWout
	pBout
	numParams
)

type paramSpec struct {
	name       string
	rows, cols int
	off        int  // offset into params.data
	decay      bool // AdamW weight decay applies (matrices and embeddings, not biases)
}

func (s paramSpec) size() int { return s.rows * s.cols }

// params is every parameter of the model in one flat slice, so the optimizer, the
// gradient norm and checkpoints treat them as one vector; each parameter is a view.
type params struct {
	specs []paramSpec
	data  []float32
}

func newParams(c Config, vocab int) *params {
	d, f := c.Dim, c.Hidden
	specs := []paramSpec{
		pE:    {name: "E", rows: vocab, cols: d, decay: true},
		pP:    {name: "P", rows: c.Window, cols: d, decay: true},
		pS:    {name: "S", rows: vocab, cols: d, decay: true},
		pWq:   {name: "Wq", rows: d, cols: d, decay: true},
		pWkT:  {name: "WkT", rows: d, cols: d, decay: true},
		pWv:   {name: "Wv", rows: d, cols: d, decay: true},
		pWo:   {name: "Wo", rows: d, cols: d, decay: true},
		pW1:   {name: "W1", rows: d, cols: f, decay: true},
		pB1:   {name: "b1", rows: 1, cols: f},
		pW2:   {name: "W2", rows: f, cols: d, decay: true},
		pB2:   {name: "b2", rows: 1, cols: d},
		pWout: {name: "Wout", rows: d, cols: vocab, decay: true},
		pBout: {name: "bout", rows: 1, cols: vocab},
	}
	n := 0
	for i := range specs {
		specs[i].off = n
		n += specs[i].size()
	}
	return &params{specs: specs, data: make([]float32, n)}
}

func (p *params) view(i int) []float32 {
	s := p.specs[i]
	return p.data[s.off : s.off+s.size() : s.off+s.size()]
}

// viewOf returns parameter i's view of a vector laid out like data (a gradient, an
// optimizer moment).
func (p *params) viewOf(v []float32, i int) []float32 {
	s := p.specs[i]
	return v[s.off : s.off+s.size() : s.off+s.size()]
}

func (p *params) clone() *params {
	return &params{specs: p.specs, data: append([]float32(nil), p.data...)}
}

// init draws the initial weights from seed: embeddings N(0, 0.5^2); the query, key,
// value and MLP input projections N(0, 1/fan_in); the projections back into the
// residual stream (Wo, W2) N(0, 0.25/fan_in); the logits' Wout N(0, 0.01/fan_in), so
// that the initial policy is close to uniform; biases 0.
func (p *params) init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x7469_6e79)) // "tiny"
	for i, s := range p.specs {
		var std float64
		switch i {
		case pE, pP, pS:
			std = 0.5
		case pWq, pWkT, pWv, pW1:
			std = 1 / math.Sqrt(float64(s.rows))
		case pWo, pW2:
			std = 0.5 / math.Sqrt(float64(s.rows))
		case pWout:
			std = 0.1 / math.Sqrt(float64(s.rows))
		default: // biases
			std = 0
		}
		v := p.view(i)
		for j := range v {
			v[j] = float32(rng.NormFloat64() * std)
		}
	}
}

func (p *params) check() error {
	for i, x := range p.data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("parameter %s holds a non-finite value", p.nameAt(i))
		}
	}
	return nil
}

func (p *params) nameAt(off int) string {
	for _, s := range p.specs {
		if off >= s.off && off < s.off+s.size() {
			return fmt.Sprintf("%s[%d]", s.name, off-s.off)
		}
	}
	return fmt.Sprintf("#%d", off)
}
