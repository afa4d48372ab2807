package actorstest

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

// GraderKnobs are the faults of one grading call.
type GraderKnobs struct {
	Latency time.Duration
	Err     error // the grader cannot judge (infrastructure)
}

// FakeGrader resolves a patch if and only if it holds the fake sandbox's fix.
type FakeGrader struct {
	Knobs   GraderKnobs
	PerCall func(req messages.GradeRequest) GraderKnobs
	calls   atomic.Int64
}

// Calls is the number of Grade calls.
func (g *FakeGrader) Calls() int64 { return g.calls.Load() }

// Grade implements swe.Grader.
func (g *FakeGrader) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	g.calls.Add(1)
	k := g.Knobs
	if g.PerCall != nil {
		k = g.PerCall(req)
	}
	if err := Sleep(ctx, k.Latency); err != nil {
		return swe.Verdict{}, err
	}
	if k.Err != nil {
		return swe.Verdict{}, k.Err
	}
	if strings.Contains(req.Patch, "+"+FixMarker) {
		return swe.Verdict{Resolved: true, Detail: "FAIL_TO_PASS passed"}, nil
	}
	return swe.Verdict{Resolved: false, Detail: "FAIL_TO_PASS still failing"}, nil
}
