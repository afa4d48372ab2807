package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// Params is one point of the grid.
type Params struct {
	Episodes int // concurrent episodes (tasks x G, G = 10)
	Turns    int // turns per episode
}

func (p Params) String() string { return fmt.Sprintf("episodes=%d/turns=%d", p.Episodes, p.Turns) }

// Group size used by every harness.
const group = 10

// reply is the zero-latency policy's answer: one command block, a few tokens.
const reply = "Looking around.\n```command\nls -la\n```\n"

// constPolicy answers every turn with the same command, with token ids and
// log-probs like a token-level policy.
type constPolicy struct{}

var (
	replyTokens   = []int32{11, 12, 13, 14, 15, 16, 17, 18}
	replyLogprobs = []float32{-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8}
)

func (constPolicy) Generate(context.Context, policy.Request) (policy.Reply, error) {
	return policy.Reply{Text: reply, Tokens: replyTokens, Logprobs: replyLogprobs}, nil
}

// nopTrainer advances the version without work.
type nopTrainer struct{ v int }

func (t *nopTrainer) Version() int { return t.v }
func (t *nopTrainer) Train(context.Context, messages.TrainBatch) (messages.TrainStats, error) {
	t.v++
	return messages.TrainStats{}, nil
}

func taskPool(n int) []messages.TaskRef {
	out := make([]messages.TaskRef, n)
	for i := range out {
		out[i] = messages.TaskRef{ID: fmt.Sprintf("t%05d", i), Statement: "fix it"}
	}
	return out
}

// peakHeap samples the heap while a run is in flight and reports the peak above the
// level it started from.
type peakHeap struct {
	stop chan struct{}
	done chan struct{}
	base uint64
	peak atomic.Uint64
}

func heapBytes(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startPeakHeap() *peakHeap {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	p := &peakHeap{stop: make(chan struct{}), done: make(chan struct{}), base: heapBytes(s)}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapBytes(s); h > p.peak.Load() {
				p.peak.Store(h)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop ends sampling and returns the peak growth in bytes.
func (p *peakHeap) Stop() uint64 {
	close(p.stop)
	<-p.done
	if pk := p.peak.Load(); pk > p.base {
		return pk - p.base
	}
	return 0
}

// measure times run in b.Loop and reports, per turn of work: ns, heap bytes and
// allocations; and episodes/s, turns/s and peak heap per concurrent episode. tail is
// a fixed wait inside run that is not rollout work (subtracted from the time).
func measure(b *testing.B, p Params, tail time.Duration, run func()) {
	var (
		elapsed    time.Duration
		peak       uint64
		runs       int
		ms0, ms1   runtime.MemStats
		bytes, mal uint64
	)
	b.ResetTimer()
	for b.Loop() {
		ph := startPeakHeap()
		runtime.ReadMemStats(&ms0)
		begin := time.Now()
		run()
		elapsed += time.Since(begin) - tail
		runtime.ReadMemStats(&ms1)
		peak = max(peak, ph.Stop())
		bytes += ms1.TotalAlloc - ms0.TotalAlloc
		mal += ms1.Mallocs - ms0.Mallocs
		runs++
	}
	turns := float64(p.Episodes*p.Turns) * float64(runs)
	b.ReportMetric(float64(p.Episodes)*float64(runs)/elapsed.Seconds(), "episodes/s")
	b.ReportMetric(turns/elapsed.Seconds(), "turns/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/turns, "ns/turn")
	b.ReportMetric(float64(bytes)/turns, "B/turn")
	b.ReportMetric(float64(mal)/turns, "allocs/turn")
	b.ReportMetric(float64(peak)/1024/float64(p.Episodes), "peak-KiB/episode")
}

// Engine runs p.Episodes episodes of p.Turns turns through engine.Run: the whole
// actor tree, one iteration, zero-latency fakes.
func Engine(b *testing.B, p Params) {
	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, p.Episodes/group, group
	cfg.Tasks = taskPool(p.Episodes / group)
	cfg.Policy, cfg.Sandboxes, cfg.Grader = constPolicy{}, &actorstest.FakeSandboxes{}, &actorstest.FakeGrader{}
	cfg.Episode.TurnCap = p.Turns
	// Validity check before timing: every episode finishes with exactly p.Turns turns.
	check := func(res engine.Result, err error) {
		if err != nil {
			b.Fatal(err)
		}
		it := res.Iterations[0]
		if it.Finished != p.Episodes {
			b.Fatalf("%d of %d episodes finished", it.Finished, p.Episodes)
		}
		for _, r := range it.Records {
			if r.Turns() != p.Turns || r.Stop != messages.StopTurnCap {
				b.Fatalf("%v: %d turns (%s), want %d", r.Ref, r.Turns(), r.Stop, p.Turns)
			}
		}
	}
	cfg.Trainer = &nopTrainer{}
	check(engine.Run(context.Background(), cfg))
	measure(b, p, engineTail, func() {
		cfg.Trainer = &nopTrainer{}
		res, err := engine.Run(context.Background(), cfg)
		if err != nil || len(res.Iterations) != 1 || res.Iterations[0].Finished != p.Episodes {
			b.Fatalf("run failed: %v", err)
		}
	})
}

// engineTail is the fixed wait at the end of engine.Run (Proto.Actor's dead-letter
// throttle interval), not part of the rollout work.
const engineTail = 100 * time.Millisecond

// Goroutines is reference (1): the same fake work, one plain goroutine per episode.
func Goroutines(b *testing.B, p Params) {
	sbs, grader, pol := &actorstest.FakeSandboxes{}, &actorstest.FakeGrader{}, constPolicy{}
	tasks := taskPool(p.Episodes / group)
	one := func(i int) (messages.Transcript, error) {
		ctx := context.Background()
		ref := messages.EpisodeRef{Group: i / group, Sample: i % group, TaskID: tasks[i/group].ID}
		sb, err := sbs.Start(ctx, sandbox.Spec{Task: tasks[i/group], Ref: ref, Attempt: 1})
		if err != nil {
			return messages.Transcript{}, err
		}
		defer sb.Close(ctx)
		var tr messages.Transcript
		for turn := 0; turn < p.Turns; turn++ {
			r, err := pol.Generate(ctx, policy.Request{Ref: ref, Turn: turn, Transcript: tr})
			if err != nil {
				return tr, err
			}
			cmd, ferr := swe.ParseCommand(r.Text)
			out, err := sb.Exec(ctx, cmd)
			if err != nil {
				return tr, err
			}
			tr = tr.Append(messages.NewTurn(messages.Turn{Index: turn, Assistant: r.Text, Command: cmd,
				FormatError: ferr, Observation: out.Text}, r.Tokens, r.Logprobs))
		}
		patch, err := sb.Diff(ctx)
		if err != nil {
			return tr, err
		}
		_, err = grader.Grade(ctx, messages.GradeRequest{Ref: ref, Task: tasks[i/group], Patch: patch})
		return tr, err
	}
	run := func() {
		var wg sync.WaitGroup
		for i := 0; i < p.Episodes; i++ {
			wg.Go(func() {
				if tr, err := one(i); err != nil || tr.Len() != p.Turns {
					panic(fmt.Sprintf("episode %d: %d turns, %v", i, tr.Len(), err))
				}
			})
		}
		wg.Wait()
	}
	run() // validity check: every episode ran p.Turns turns
	measure(b, p, 0, run)
}
