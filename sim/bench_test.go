package sim

import (
	"context"
	"testing"

	"github.com/swerl/swerl/policy"
)

// BenchmarkEpisode runs whole episodes (generate nothing: tasks are made before the
// timer) per preset and policy.
func BenchmarkEpisode(b *testing.B) {
	for _, p := range presets() {
		tasks := Generate(p.cfg, 64)
		for _, pol := range []struct {
			name string
			p    policy.Policy
		}{{"expert", Expert{}}, {"noisy", Noisy{P: 0.3, Seed: 1}}, {"random", Random{Seed: 1}}} {
			b.Run("world="+p.name+"/policy="+pol.name, func(b *testing.B) {
				// Validity before timing: the expert resolves the first task.
				if ep, err := Run(context.Background(), Expert{}, tasks[0], 40); err != nil || !ep.Resolved {
					b.Fatalf("expert does not resolve %s: %v", tasks[0].ID, err)
				}
				b.ReportAllocs()
				turns, i := 0, 0
				for b.Loop() {
					ep, err := Run(context.Background(), pol.p, tasks[i%len(tasks)], 40)
					if err != nil {
						b.Fatal(err)
					}
					turns += ep.Transcript.Len()
					i++
				}
				b.ReportMetric(float64(turns)/b.Elapsed().Seconds(), "turns/s")
			})
		}
	}
}

// BenchmarkGenerate measures task generation per preset.
func BenchmarkGenerate(b *testing.B) {
	for _, p := range presets() {
		b.Run("world="+p.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				generateTask(p.cfg, i)
				i++
			}
		})
	}
}
