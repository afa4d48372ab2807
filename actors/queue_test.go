package actors

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// Past its limit the pool runs waiting jobs lowest key first, in arrival order among
// equal keys; submit is plain FIFO.
func TestWorkerPoolOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []int
		want []int // job indices in the order they run
	}{
		{"keyed", []int{5, 1, 3, 1, 0}, []int{4, 1, 3, 2, 0}},
		{"fifo", []int{0, 0, 0, 0}, []int{0, 1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := NewRuntime(nil, nil)
				ctx, cancel := context.WithCancel(context.Background())
				p := newWorkerPool(rt, ctx, 1)
				gate := make(chan struct{})
				var mu sync.Mutex
				var ran []int
				p.submit(func(context.Context) { <-gate }, nil) // holds the only slot
				synctest.Wait()
				for i, k := range tc.keys {
					p.submitKeyed(k, func(context.Context) {
						mu.Lock()
						ran = append(ran, i)
						mu.Unlock()
					}, nil)
				}
				close(gate)
				synctest.Wait()
				cancel()
				rt.Wait()
				if !slices.Equal(ran, tc.want) {
					t.Errorf("ran %v, want %v", ran, tc.want)
				}
			})
		})
	}
}
