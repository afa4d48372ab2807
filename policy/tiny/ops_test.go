package tiny

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gorgonia's own LogSoftMax gives NaN on the second row (its running maximum starts at
// the tensor's first element); ours must not.
func TestLogSoftmaxRowsFarApart(t *testing.T) {
	data := []float32{100, 0, -3, -200, -201, -202}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithBacking(data), tensor.WithShape(2, 3))))
	y := G.Must(logSoftmax(x))
	// loss = -(y[0,1] + y[1,2]): its gradient is softmax - onehot per row.
	oh := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("oh"),
		G.WithValue(tensor.New(tensor.WithBacking([]float32{0, 1, 0, 0, 0, 1}), tensor.WithShape(2, 3))))
	loss := G.Must(G.Neg(G.Must(G.Sum(G.Must(G.HadamardProd(y, oh))))))
	grads, err := G.Grad(loss, x)
	if err != nil {
		t.Fatal(err)
	}
	var yv, gv G.Value
	G.Read(y, &yv)
	G.Read(grads[0], &gv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	ys, gs := yv.Data().([]float32), gv.Data().([]float32)
	want := make([]float64, 6)
	for r := 0; r < 2; r++ {
		row := data[r*3 : r*3+3]
		mx := math.Max(float64(row[0]), math.Max(float64(row[1]), float64(row[2])))
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		for i, v := range row {
			want[r*3+i] = float64(v) - mx - math.Log(z)
		}
	}
	onehot := []float64{0, 1, 0, 0, 0, 1}
	for i := range want {
		if math.Abs(float64(ys[i])-want[i]) > 1e-4 {
			t.Errorf("y[%d] = %v, want %v", i, ys[i], want[i])
		}
		if wg := math.Exp(want[i]) - onehot[i]; math.Abs(float64(gs[i])-wg) > 1e-5 {
			t.Errorf("grad[%d] = %v, want %v", i, gs[i], wg)
		}
	}
}
