package tiny

import (
	"fmt"
	"math"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The computation, for B windows of W ids at once (d = Dim, H = Heads, dh = d/H):
//
//	X[b,w]  = E[id[b,w]] + P[w]                     gathered in Go; XL = X[:, W-1]
//	K[b,w]  = X[b,w] + S[id[b,w-1]]                  the key's input (S[..] = 0 at w = 0)
//	q       = XL Wq                                  the last position's query
//	qk[b,h] = (q[b] masked to head h) / sqrt(dh) Wk^T
//	s[b,h,w] = qk[b,h] . K[b,w] + pad bias           = q_h . k_h(K[b,w]) / sqrt(dh)
//	a       = softmax over w
//	c[b]    = concat_h (sum_w a[b,h,w] X[b,w]) Wv_h  = sum_w a v_h(X[b,w])
//	h       = XL + c Wo                              attention with residual
//	h2      = h + relu(h W1 + b1) W2 + b2            MLP with residual
//	logp    = logsoftmax(h2 Wout + bout)             [B, V]
//
// That is one causal transformer layer whose only query is the last position (the
// others' outputs would only feed later layers), with "smeared" keys: each key also
// sees the token before it, so one layer can form an induction head (attend to the
// token that followed an earlier copy of the current one: the copying that reading a
// file name, a line number or a line of code out of an observation needs; Olsson et
// al. 2022, "In-context learning and induction heads"). Multiplying the query by Wk^T instead
// of projecting every key (and pooling X before Wv) costs B*H*d^2 instead of B*W*d^2.
// The embedding gather (and its scatter-add in the backward pass) runs in Go; all the
// rest, the loss and its gradients, is a gorgonia graph compiled once per batch size.

type graphMode int

const (
	modeInfer graphMode = iota // log-probs only
	modeSFT                    // loss = -sum_i w_i logp_i(target_i)
	modeDAPO                   // loss = the clipped surrogate (dapoLoss)
)

const padBias = -1e9

// graph is one compiled computation for a fixed batch size. Its input nodes are bound
// to buffers it owns and refills each run; its parameter nodes are bound to views of
// the model's parameters, so it always computes with the current weights. A graph is
// used by one goroutine at a time.
type graph struct {
	m    *Model
	b    int
	mode graphMode
	g    *G.ExprGraph
	vm   G.VM

	ids      []int32   // [B, W] the windows of the last run
	x, xl    []float32 // [B, W, d], [B, d]
	xs       []float32 // [B, W, d] the previous tokens' S rows
	bias     []float32 // [B, H, W]
	onehot   []float32 // [B, V]
	rows     rowInputs // per-row loss inputs
	pn       [numParams]*G.Node
	lp, loss *G.Node
	tlp      *G.Node
	grads    G.Nodes // d loss / d (Wq .. bout), then x, xl

	// What a run reports is copied out by Read nodes: the machine reuses the memory of
	// intermediate values, so a node's Value after the run may hold something else.
	lpOut, tlpOut []float32
	gradOut       [][]float32
	reads         []*G.Value
	lossOut       G.Value
}

// readInto makes the machine copy n's value into buf at each run.
func (gr *graph) readInto(n *G.Node, buf []float32) {
	v := G.Value(tensor.New(tensor.WithBacking(buf), tensor.WithShape(n.Shape().Clone()...)))
	gr.reads = append(gr.reads, &v)
	G.Read(n, &v)
}

// rowInputs are the per-position inputs of the DAPO surrogate (also used by SFT: w).
type rowInputs struct {
	old, adv, w, lrLo, lrHi, rLo, rHi, dual []float32
}

func backed(g *G.ExprGraph, name string, data []float32, shape ...int) *G.Node {
	t := tensor.New(tensor.WithBacking(data), tensor.WithShape(shape...))
	return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}

// building serialises newGraph: gorgonia's graph construction updates package state
// (the group counter of internal/encoding), so graphs are built one at a time even
// when batchers and training lanes run at once.
var building sync.Mutex

func newGraph(m *Model, b int, mode graphMode) (gr *graph, err error) {
	building.Lock()
	defer building.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tiny: building the graph (batch %d): %v", b, r)
		}
	}()
	c := m.cfg
	w, d, h, v := c.Window, c.Dim, c.Heads, m.tok.Size()
	dh := d / h
	gr = &graph{m: m, b: b, mode: mode, g: G.NewGraph()}
	g := gr.g
	gr.ids = make([]int32, b*w)
	gr.x = make([]float32, b*w*d)
	gr.xl = make([]float32, b*d)
	gr.xs = make([]float32, b*w*d)
	gr.bias = make([]float32, b*h*w)
	for i, s := range m.p.specs {
		if i == pE || i == pP || i == pS {
			continue
		}
		gr.pn[i] = backed(g, s.name, m.p.view(i), s.rows, s.cols)
	}
	// Head masks: hmq scales head h's coordinates of the query by 1/sqrt(dh) and zeroes
	// the others; hmy keeps head h's coordinates of its value.
	hmq := make([]float32, b*h*d)
	hmy := make([]float32, b*h*d)
	scale := float32(1 / math.Sqrt(float64(dh)))
	for r := 0; r < b; r++ {
		for hh := 0; hh < h; hh++ {
			for k := hh * dh; k < (hh+1)*dh; k++ {
				hmq[(r*h+hh)*d+k] = scale
				hmy[(r*h+hh)*d+k] = 1
			}
		}
	}
	x := backed(g, "x", gr.x, b, w, d)
	xl := backed(g, "xl", gr.xl, b, d)
	xs := backed(g, "xs", gr.xs, b, w, d)
	keys := G.Must(G.Add(x, xs))
	bias := backed(g, "bias", gr.bias, b, h, w)
	hq := backed(g, "hmq", hmq, b, h, d)
	hy := backed(g, "hmy", hmy, b, h, d)
	p := &gr.pn

	q := G.Must(G.Mul(xl, p[pWq]))                                                                  // [B, d]
	qm := G.Must(G.BroadcastHadamardProd(G.Must(G.Reshape(q, []int{b, 1, d})), hq, []byte{1}, nil)) // [B, H, d]
	qk := G.Must(G.Reshape(G.Must(G.Mul(G.Must(G.Reshape(qm, []int{b * h, d})), p[pWkT])), []int{b, h, d}))
	s := G.Must(G.Add(G.Must(G.BatchedMatMul(qk, keys, false, true)), bias)) // [B, H, W]
	a := G.Must(G.Exp(G.Must(logSoftmax(G.Must(G.Reshape(s, []int{b * h, w}))))))
	xa := G.Must(G.BatchedMatMul(G.Must(G.Reshape(a, []int{b, h, w})), x)) // [B, H, d]
	y := G.Must(G.Reshape(G.Must(G.Mul(G.Must(G.Reshape(xa, []int{b * h, d})), p[pWv])), []int{b, h, d}))
	cc := G.Must(G.Sum(G.Must(G.HadamardProd(y, hy)), 1)) // [B, d]
	hid := G.Must(G.Add(xl, G.Must(G.Mul(cc, p[pWo]))))
	f := G.Must(G.Rectify(G.Must(G.BroadcastAdd(G.Must(G.Mul(hid, p[pW1])), p[pB1], nil, []byte{0}))))
	h2 := G.Must(G.Add(hid, G.Must(G.BroadcastAdd(G.Must(G.Mul(f, p[pW2])), p[pB2], nil, []byte{0}))))
	logits := G.Must(G.BroadcastAdd(G.Must(G.Mul(h2, p[pWout])), p[pBout], nil, []byte{0}))
	gr.lp = G.Must(logSoftmax(logits)) // [B, V]
	gr.lpOut = make([]float32, b*v)
	gr.readInto(gr.lp, gr.lpOut)

	if mode != modeInfer {
		gr.onehot = make([]float32, b*v)
		oh := backed(g, "onehot", gr.onehot, b, v)
		gr.tlp = G.Must(G.Sum(G.Must(G.HadamardProd(gr.lp, oh)), 1)) // [B]
		gr.tlpOut = make([]float32, b)
		gr.readInto(gr.tlp, gr.tlpOut)
		ri := &gr.rows
		vec := func(name string, dst *[]float32) *G.Node {
			*dst = make([]float32, b)
			return backed(g, name, *dst, b)
		}
		wN := vec("w", &ri.w)
		if mode == modeSFT {
			gr.loss = G.Must(G.Neg(G.Must(G.Sum(G.Must(G.HadamardProd(gr.tlp, wN))))))
		} else {
			in := dapoNodes{
				old: vec("old", &ri.old), adv: vec("adv", &ri.adv), w: wN,
				lrLo: vec("lrLo", &ri.lrLo), lrHi: vec("lrHi", &ri.lrHi),
				rLo: vec("rLo", &ri.rLo), rHi: vec("rHi", &ri.rHi), dual: vec("dual", &ri.dual),
			}
			gr.loss = G.Must(dapoLoss(gr.tlp, in))
		}
		wrt := G.Nodes{}
		for i := pWq; i < numParams; i++ {
			wrt = append(wrt, p[i])
		}
		wrt = append(wrt, x, xl, xs)
		if gr.grads, err = G.Grad(gr.loss, wrt...); err != nil {
			return nil, fmt.Errorf("tiny: gradients: %w", err)
		}
		G.Read(gr.loss, &gr.lossOut)
		for _, gn := range gr.grads {
			buf := make([]float32, gn.Shape().TotalSize())
			gr.gradOut = append(gr.gradOut, buf)
			gr.readInto(gn, buf)
		}
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// dapoNodes are the per-row inputs of the surrogate: the sampling log-prob, the
// advantage, the aggregation weight, the log-ratio clamp bounds, the ratio clip bounds
// (1-eps_low, 1+eps_high) and the dual-clip floor (c*A where A < 0 and the dual clip is
// on, a huge negative number elsewhere). All have the shape of newLP.
type dapoNodes struct {
	old, adv, w, lrLo, lrHi, rLo, rHi, dual *G.Node
}

// dapoLoss builds L = -sum_i w_i max(min(rho_i A_i, clip(rho_i, rLo_i, rHi_i) A_i), dual_i),
// rho_i = exp(clamp(newLP_i - old_i, lrLo_i, lrHi_i)): PAPER.md's clipped surrogate
// with token weights (w = 1/N for the token mean). gorgonia's Min/MaxBetween send the
// gradient to their first argument on ties, which is dapo.TokenTerm's convention (the
// unclipped term is active on the band's edges; the clamp lets the gradient through on
// its edges). Works for any float dtype (the tests build it in float64).
func dapoLoss(newLP *G.Node, in dapoNodes) (loss *G.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tiny: building the DAPO loss: %v", r)
		}
	}()
	lr := G.Must(G.Sub(newLP, in.old))
	lr = G.Must(G.MinBetween(G.Must(G.MaxBetween(lr, in.lrLo)), in.lrHi))
	rho := G.Must(G.Exp(lr))
	unclipped := G.Must(G.HadamardProd(rho, in.adv))
	clipped := G.Must(G.HadamardProd(G.Must(G.MinBetween(G.Must(G.MaxBetween(rho, in.rLo)), in.rHi)), in.adv))
	obj := G.Must(G.MinBetween(unclipped, clipped))
	obj = G.Must(G.MaxBetween(obj, in.dual))
	return G.Neg(G.Must(G.Sum(G.Must(G.HadamardProd(obj, in.w)))))
}

// load copies windows (B*W ids) into the graph's inputs: the embeddings gathered, the
// pad bias.
func (gr *graph) load(windows []int32) {
	c := gr.m.cfg
	w, d, h := c.Window, c.Dim, c.Heads
	e, pp, sm := gr.m.p.view(pE), gr.m.p.view(pP), gr.m.p.view(pS)
	copy(gr.ids, windows)
	for r := 0; r < gr.b; r++ {
		for j := 0; j < w; j++ {
			id := int(windows[r*w+j])
			dst := gr.x[(r*w+j)*d : (r*w+j+1)*d]
			er, pr := e[id*d:(id+1)*d], pp[j*d:(j+1)*d]
			for k := range dst {
				dst[k] = er[k] + pr[k]
			}
			ds := gr.xs[(r*w+j)*d : (r*w+j+1)*d]
			if prev := gr.prev(r, j); prev >= 0 {
				copy(ds, sm[prev*d:(prev+1)*d])
			} else {
				clear(ds)
			}
			var bias float32
			if id == int(Pad) {
				bias = padBias
			}
			for hh := 0; hh < h; hh++ {
				gr.bias[(r*h+hh)*w+j] = bias
			}
		}
		copy(gr.xl[r*d:(r+1)*d], gr.x[(r*w+w-1)*d:(r*w+w)*d])
	}
}

// prev is the id before window position j of row r whose S row is smeared into the
// key at j, or -1 when there is none (the window's first position, or padding).
func (gr *graph) prev(r, j int) int {
	w := gr.m.cfg.Window
	if j == 0 || gr.ids[r*w+j-1] == Pad {
		return -1
	}
	return int(gr.ids[r*w+j-1])
}

// run executes the graph once and resets the machine after read has looked at it.
func (gr *graph) run(read func() error) error {
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return fmt.Errorf("tiny: running the graph: %w", err)
	}
	return read()
}

func values(v G.Value) []float32 {
	switch d := v.Data().(type) {
	case []float32:
		return d
	case float32:
		return []float32{d}
	default:
		panic(fmt.Sprintf("tiny: value %v holds %T", v, d))
	}
}

// infer computes the log-probs of the vocabulary after each window into dist [B*V].
func (gr *graph) infer(windows []int32, dist []float32) error {
	gr.load(windows)
	return gr.run(func() error {
		copy(dist, gr.lpOut)
		return nil
	})
}

// stepOut is what one training run reports.
type stepOut struct {
	loss float64
	tlp  []float32 // new log-prob of each row's target
	ent  []float64 // entropy of each row's distribution
}

// train runs the loss and adds its gradient into grad (laid out like the parameters).
// The caller has filled the windows, onehot targets and row inputs.
func (gr *graph) train(windows, targets []int32, grad []float32, out *stepOut) error {
	if err := gr.forwardBackward(windows, targets, out); err != nil {
		return err
	}
	gr.scatter(grad)
	return nil
}

// forwardBackward is train without the scatter: the loss, the outputs and the
// gradients, held in gr until the next run. Graphs of one model may run it at once
// (the parameters are only read); their scatters into one gradient then follow in a
// fixed order, so that the sum is the same as one graph's, run after run.
func (gr *graph) forwardBackward(windows, targets []int32, out *stepOut) error {
	gr.load(windows)
	v := gr.m.tok.Size()
	clear(gr.onehot)
	for r, t := range targets {
		gr.onehot[r*v+int(t)] = 1
	}
	return gr.run(func() error {
		out.loss = float64(values(gr.lossOut)[0])
		out.tlp = append(out.tlp[:0], gr.tlpOut...)
		lp := gr.lpOut
		out.ent = out.ent[:0]
		for r := 0; r < gr.b; r++ {
			out.ent = append(out.ent, entropy(lp[r*v:(r+1)*v]))
		}
		return nil
	})
}

// scatter adds the graph's gradients into grad: the parameters' directly, the inputs'
// (x, xl, xs) onto the embedding rows and positions they were gathered from.
func (gr *graph) scatter(grad []float32) {
	p := gr.m.p
	for k, i := 0, pWq; i < numParams; i, k = i+1, k+1 {
		dst := p.viewOf(grad, i)
		for j, g := range gr.gradOut[k] {
			dst[j] += g
		}
	}
	c := gr.m.cfg
	w, d := c.Window, c.Dim
	de, dp, ds := p.viewOf(grad, pE), p.viewOf(grad, pP), p.viewOf(grad, pS)
	n := len(gr.gradOut)
	dx, dxl, dxs := gr.gradOut[n-3], gr.gradOut[n-2], gr.gradOut[n-1]
	add := func(id, pos int, src []float32) {
		er, pr := de[id*d:(id+1)*d], dp[pos*d:(pos+1)*d]
		for k, g := range src {
			er[k] += g
			pr[k] += g
		}
	}
	for r := 0; r < gr.b; r++ {
		for j := 0; j < w; j++ {
			id := int(gr.ids[r*w+j])
			if id == int(Pad) {
				continue // masked out of attention: no gradient
			}
			add(id, j, dx[(r*w+j)*d:(r*w+j+1)*d])
			if prev := gr.prev(r, j); prev >= 0 {
				sr := ds[prev*d : (prev+1)*d]
				for k, g := range dxs[(r*w+j)*d : (r*w+j+1)*d] {
					sr[k] += g
				}
			}
		}
		add(int(gr.ids[r*w+w-1]), w-1, dxl[r*d:(r+1)*d])
	}
}
