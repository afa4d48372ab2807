package tiny

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// logSoftmax is a row-wise log-softmax over the last axis of a matrix, written here
// because gorgonia's (tensor v0.9.24, softMaxLastDimF32/F64) starts every row's
// running maximum at the first element of the whole tensor instead of the row's: a row
// whose values lie far below that element underflows to -Inf/NaN. It also spawns a
// goroutine per row. The gradient is another op: dx = g - exp(y) * rowsum(g).
func logSoftmax(x *G.Node) (*G.Node, error) {
	if x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("tiny: logSoftmax wants a matrix, got shape %v", x.Shape())
	}
	return G.ApplyOp(lsmOp{}, x)
}

type lsmOp struct{}

func (lsmOp) Arity() int { return 1 }
func (lsmOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (lsmOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (lsmOp) ReturnsPtr() bool      { return false }
func (lsmOp) CallsExtern() bool     { return false }
func (lsmOp) OverwritesInput() int  { return -1 }
func (lsmOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "tiny.logSoftmax") }
func (op lsmOp) Hashcode() uint32   { return opHash(op) }
func (lsmOp) String() string        { return "tiny.logSoftmax" }
func (lsmOp) DiffWRT(n int) []bool  { return []bool{true} }
func (op lsmOp) Do(in ...G.Value) (G.Value, error) {
	x, ok := in[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("tiny.logSoftmax: input is %T", in[0])
	}
	out := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(x.Dtype()))
	return op.UsePreallocDo(out, in...)
}

func (lsmOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, ok := in[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("tiny.logSoftmax: input is %T", in[0])
	}
	cols := x.Shape()[len(x.Shape())-1]
	switch xs := x.Data().(type) {
	case []float32:
		lsmRows(prealloc.Data().([]float32), xs, cols)
	case []float64:
		lsmRows(prealloc.Data().([]float64), xs, cols)
	default:
		return nil, fmt.Errorf("tiny.logSoftmax: dtype %v", x.Dtype())
	}
	return prealloc, nil
}

func (lsmOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(lsmDiffOp{}, output, grad)
	return G.Nodes{dx}, err
}

func lsmRows[T float32 | float64](dst, x []T, cols int) {
	for lo := 0; lo < len(x); lo += cols {
		row, out := x[lo:lo+cols], dst[lo:lo+cols]
		mx := math.Inf(-1)
		for _, v := range row {
			if f := float64(v); f > mx || f != f { // a NaN wins, as in math.Max
				mx = f
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		for i, v := range row {
			out[i] = T(float64(v) - lse)
		}
	}
}

// lsmDiffOp(y, g) = g - exp(y) * rowsum(g), the gradient of logSoftmax at output y.
type lsmDiffOp struct{}

func (lsmDiffOp) Arity() int { return 2 }
func (lsmDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (lsmDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (lsmDiffOp) ReturnsPtr() bool      { return false }
func (lsmDiffOp) CallsExtern() bool     { return false }
func (lsmDiffOp) OverwritesInput() int  { return -1 }
func (lsmDiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "tiny.logSoftmaxDiff") }
func (op lsmDiffOp) Hashcode() uint32   { return opHash(op) }
func (lsmDiffOp) String() string        { return "tiny.logSoftmaxDiff" }
func (lsmDiffOp) Do(in ...G.Value) (G.Value, error) {
	y, ok1 := in[0].(*tensor.Dense)
	g, ok2 := in[1].(*tensor.Dense)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tiny.logSoftmaxDiff: inputs are %T, %T", in[0], in[1])
	}
	out := tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.Of(y.Dtype()))
	cols := y.Shape()[len(y.Shape())-1]
	switch ys := y.Data().(type) {
	case []float32:
		lsmDiffRows(out.Data().([]float32), ys, g.Data().([]float32), cols)
	case []float64:
		lsmDiffRows(out.Data().([]float64), ys, g.Data().([]float64), cols)
	default:
		return nil, fmt.Errorf("tiny.logSoftmaxDiff: dtype %v", y.Dtype())
	}
	return out, nil
}

func lsmDiffRows[T float32 | float64](dst, y, g []T, cols int) {
	for lo := 0; lo < len(y); lo += cols {
		var sum float64
		for _, v := range g[lo : lo+cols] {
			sum += float64(v)
		}
		for i := lo; i < lo+cols; i++ {
			dst[i] = T(float64(g[i]) - math.Exp(float64(y[i]))*sum)
		}
	}
}

func opHash(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

var (
	_ G.SDOp = lsmOp{}
	_ G.Op   = lsmDiffOp{}
)
