package tiny

import "math"

// refModel is the model's computation written out in float64 Go, for checking the
// gorgonia graph (log-probs) and its gradients (finite differences).
type refModel struct {
	c    Config
	v    int
	data []float64
	p    *params
}

func newRef(m *Model) *refModel {
	r := &refModel{c: m.cfg, v: m.tok.Size(), p: m.p, data: make([]float64, len(m.p.data))}
	for i, x := range m.p.data {
		r.data[i] = float64(x)
	}
	return r
}

func (r *refModel) view(i int) []float64 {
	s := r.p.specs[i]
	return r.data[s.off : s.off+s.size()]
}

// matvec returns x M for x of length rows(M).
func matvec(x, m []float64, rows, cols int) []float64 {
	out := make([]float64, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j] += x[i] * m[i*cols+j]
		}
	}
	return out
}

// logp returns the log-probs of the vocabulary after one window.
func (r *refModel) logp(win []int32) []float64 {
	w, d, h := r.c.Window, r.c.Dim, r.c.Heads
	dh := d / h
	x := r.embed(win)
	xl := x[w-1]
	q := matvec(xl, r.view(pWq), d, d)
	wk := r.view(pWkT) // Wk^T: k = x Wk, Wk[i][j] = WkT[j][i]
	wv := r.view(pWv)
	keys := make([][]float64, w)
	vals := make([][]float64, w)
	for j := range x {
		keys[j] = make([]float64, d)
		kin := r.keyInput(win, x, j)
		for jj := 0; jj < d; jj++ {
			for i := 0; i < d; i++ {
				keys[j][jj] += kin[i] * wk[jj*d+i]
			}
		}
		vals[j] = matvec(x[j], wv, d, d)
	}
	c := make([]float64, d)
	for hh := 0; hh < h; hh++ {
		s := make([]float64, w)
		mx := math.Inf(-1)
		for j := range x {
			if win[j] == Pad {
				s[j] = math.Inf(-1)
				continue
			}
			for k := hh * dh; k < (hh+1)*dh; k++ {
				s[j] += q[k] * keys[j][k]
			}
			s[j] /= math.Sqrt(float64(dh))
			mx = math.Max(mx, s[j])
		}
		var z float64
		for j := range s {
			s[j] = math.Exp(s[j] - mx)
			z += s[j]
		}
		for j := range s {
			for k := hh * dh; k < (hh+1)*dh; k++ {
				c[k] += s[j] / z * vals[j][k]
			}
		}
	}
	hid := matvec(c, r.view(pWo), d, d)
	for k := range hid {
		hid[k] += xl[k]
	}
	f := matvec(hid, r.view(pW1), d, r.c.Hidden)
	for k, b := range r.view(pB1) {
		f[k] = math.Max(0, f[k]+b)
	}
	h2 := matvec(f, r.view(pW2), r.c.Hidden, d)
	for k, b := range r.view(pB2) {
		h2[k] += b + hid[k]
	}
	logits := matvec(h2, r.view(pWout), d, r.v)
	mx := math.Inf(-1)
	for k, b := range r.view(pBout) {
		logits[k] += b
		mx = math.Max(mx, logits[k])
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	for k := range logits {
		logits[k] -= mx + math.Log(z)
	}
	return logits
}

// attention returns each head's attention weights over the window.
func (r *refModel) attention(win []int32) [][]float64 {
	w, d, h := r.c.Window, r.c.Dim, r.c.Heads
	dh := d / h
	x := r.embed(win)
	q := matvec(x[w-1], r.view(pWq), d, d)
	wk := r.view(pWkT)
	out := make([][]float64, h)
	for hh := 0; hh < h; hh++ {
		s := make([]float64, w)
		var z float64
		for j := range x {
			if win[j] == Pad {
				continue
			}
			var sc float64
			kin := r.keyInput(win, x, j)
			for k := hh * dh; k < (hh+1)*dh; k++ {
				var key float64
				for i := 0; i < d; i++ {
					key += kin[i] * wk[k*d+i]
				}
				sc += q[k] * key
			}
			s[j] = math.Exp(sc / math.Sqrt(float64(dh)))
			z += s[j]
		}
		for j := range s {
			s[j] /= z
		}
		out[hh] = s
	}
	return out
}

// keyInput is the input of the key at window position j: x[j] plus the S row of the
// token before it (none at j = 0 or after padding).
func (r *refModel) keyInput(win []int32, x [][]float64, j int) []float64 {
	d := r.c.Dim
	out := append([]float64(nil), x[j]...)
	if j > 0 && win[j-1] != Pad {
		sm := r.view(pS)
		for k := range out {
			out[k] += sm[int(win[j-1])*d+k]
		}
	}
	return out
}

// embed returns each window position's input: its token's E row plus its P row.
func (r *refModel) embed(win []int32) [][]float64 {
	d := r.c.Dim
	e, p := r.view(pE), r.view(pP)
	x := make([][]float64, len(win))
	for j, id := range win {
		x[j] = make([]float64, d)
		for k := 0; k < d; k++ {
			x[j][k] = e[int(id)*d+k] + p[j*d+k]
		}
	}
	return x
}
