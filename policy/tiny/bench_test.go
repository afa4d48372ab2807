package tiny

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// benchVocab is a vocabulary of the size SimSWE's is expected to have.
func benchVocab(n int) []string {
	words := make([]string, n)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	return words
}

func BenchmarkForward(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("vocab=400/batch=%d", batch), func(b *testing.B) {
			m, err := New(DefaultConfig(), NewTokenizer(benchVocab(400)))
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			wins, targets := randomWindows(rng, batch, m.cfg.Window, m.tok.Size())
			if _, _, err := m.Forward(wins, targets); err != nil { // validity, and the graph is built
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := m.Forward(wins, targets); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "positions/s")
		})
	}
}

// BenchmarkTrainStep times optimizer steps of one micro-batch, and of eight (which run
// on GOMAXPROCS lanes at once: compare -cpu 1,2).
func BenchmarkTrainStep(b *testing.B) {
	for _, mode := range []graphMode{modeSFT, modeDAPO} {
		name := map[graphMode]string{modeSFT: "sft", modeDAPO: "dapo"}[mode]
		for _, c := range []struct{ batch, micro int }{{64, 1}, {256, 1}, {256, 8}} {
			b.Run(fmt.Sprintf("%s/vocab=400/batch=%d/micro=%d", name, c.batch, c.micro), func(b *testing.B) {
				m, err := New(DefaultConfig(), NewTokenizer(benchVocab(400)))
				if err != nil {
					b.Fatal(err)
				}
				n := c.batch * c.micro // positions per step
				cfg := DefaultTrainConfig()
				cfg.MicroBatch, cfg.PositionsPerStep = c.batch, n
				tr, err := NewTrainer(m, cfg)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 1))
				w := m.cfg.Window
				ctx := make([]int32, n+w)
				for i := range ctx {
					ctx[i] = int32(numSpecial) + int32(rng.IntN(400))
				}
				run := epochRun{mode: mode, seqs: []sequence{{ctx: ctx, adv: 1, n: n}}}
				step := make([]int32, n)
				for k := range step {
					run.pos = append(run.pos, position{seq: 0, i: int32(w + k), old: -6})
					step[k] = int32(k)
				}
				if err := tr.optimStep(&run, step); err != nil { // validity, and the graphs are built
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := tr.optimStep(&run, step); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "positions/s")
			})
		}
	}
}

// BenchmarkGenerate times batched sampling: concurrent requests, tokens per second.
func BenchmarkGenerate(b *testing.B) {
	for _, conc := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("vocab=400/concurrent=%d", conc), func(b *testing.B) {
			m, err := New(DefaultConfig(), NewTokenizer(benchVocab(400)))
			if err != nil {
				b.Fatal(err)
			}
			m.p.view(pBout)[EOS] = -1e4 // replies run to the cap
			const reply = 32
			p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: reply, MaxBatch: 64})
			statement := strings.Repeat("w1 w2 w3 ", 30)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for c := 0; c < conc; c++ {
					wg.Go(func() {
						req := policy.Request{Ref: messages.EpisodeRef{Sample: c}, Task: messages.TaskRef{Statement: statement}}
						if r, err := p.Generate(context.Background(), req); err != nil || len(r.Tokens) != reply {
							b.Errorf("generate: %v, %d tokens", err, len(r.Tokens))
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*conc*reply)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
