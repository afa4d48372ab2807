package actorstest

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// PolicyKnobs are the faults of one policy call.
type PolicyKnobs struct {
	Latency time.Duration
	Err     error // the call fails with it (wrap in *policy.Error to mark it retryable)
	Garbage bool  // the reply holds no command block
	// Overflow: the context budget runs out during this call; the reply carries a
	// partial text (as a token-in policy reports it) and Overflow.
	Overflow bool
}

// FakePolicy is a scripted agent. By default it follows Script: a few exploring
// commands, a fix on the samples that solve the task, then submit. Every call records
// the policy version it served, so tests can check on-policy sampling.
type FakePolicy struct {
	Knobs PolicyKnobs
	// PerCall picks knobs per call; try counts the calls for the same episode, attempt
	// and turn (1 for the first), so a fault can strike only the first try.
	PerCall func(req policy.Request, try int) PolicyKnobs
	Script  Script

	calls    atomic.Int64
	mu       sync.Mutex
	versions map[int]int64 // policy version -> calls served
	tries    map[callKey]int
}

type callKey struct {
	ep            messages.EpisodeKey
	attempt, turn int
}

// Calls is the number of Generate calls.
func (p *FakePolicy) Calls() int64 { return p.calls.Load() }

// Versions returns how many calls each policy version served.
func (p *FakePolicy) Versions() map[int]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.versions)
}

// Generate implements policy.Policy.
func (p *FakePolicy) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	p.calls.Add(1)
	p.mu.Lock()
	if p.versions == nil {
		p.versions = map[int]int64{}
	}
	p.versions[req.Version]++
	try := 0
	if p.PerCall != nil {
		if p.tries == nil {
			p.tries = map[callKey]int{}
		}
		ck := callKey{req.Ref.Key(), req.Attempt, req.Turn}
		p.tries[ck]++
		try = p.tries[ck]
	}
	p.mu.Unlock()
	k := p.Knobs
	if p.PerCall != nil {
		k = p.PerCall(req, try)
	}
	if err := Sleep(ctx, k.Latency); err != nil {
		return policy.Reply{}, &policy.Error{Retryable: true, Err: err}
	}
	if k.Err != nil {
		return policy.Reply{}, k.Err
	}
	if k.Garbage {
		return policy.Reply{Text: "I am not sure what to do; let me think about it more."}, nil
	}
	if k.Overflow {
		return policy.Reply{Text: "Let me read every file of the repos", Prompt: []int32{1, 2, 3},
			Tokens: []int32{4, 5, 6}, Logprobs: []float32{-0.1, -0.2, -0.3}, Overflow: true}, nil
	}
	text := p.Script.Reply(req)
	toks := make([]int32, 0, 8)
	lps := make([]float32, 0, 8)
	for i := 0; i < len(text) && i < 8; i++ {
		toks = append(toks, int32(text[i]))
		lps = append(lps, -0.5)
	}
	return policy.Reply{Text: text, Tokens: toks, Logprobs: lps}, nil
}

// Script decides the scripted agent's replies from the request alone, so a retried
// or restarted episode replays the same trajectory.
type Script struct {
	Seed uint64
	// MinCommands and MaxCommands bound the exploring commands before the fix
	// (defaults 3 and 6). SolveRate is the chance a sample fixes the bug, varied per
	// task (default 0.5). FormatErrorRate adds turns without a command block.
	MinCommands, MaxCommands int
	SolveRate                float64
	FormatErrorRate          float64
	// NeverSubmit keeps exploring until the turn cap.
	NeverSubmit bool
}

// Commands returns how many exploring commands sample s of task id runs.
func (s Script) Commands(ref messages.EpisodeRef) int {
	lo, hi := s.MinCommands, s.MaxCommands
	if lo == 0 {
		lo = 3
	}
	if hi < lo {
		hi = lo + 3
	}
	return lo + int(s.hash("len", ref.TaskID, ref.Sample, 0)%uint64(hi-lo+1))
}

// Solves reports whether sample s of the task applies the fix.
func (s Script) Solves(ref messages.EpisodeRef) bool {
	rate := s.SolveRate
	if rate == 0 {
		rate = 0.5
	}
	// Per-task difficulty around the rate, so some groups are all-fail or all-pass.
	task := float64(s.hash("task", ref.TaskID, 0, 0)%1000) / 1000
	p := rate + (task-0.5)*0.8
	return float64(s.hash("solve", ref.TaskID, ref.Sample, ref.Iteration)%1000)/1000 < p
}

// Reply is the assistant text for one turn.
func (s Script) Reply(req policy.Request) string {
	ref, turn := req.Ref, req.Turn
	if s.FormatErrorRate > 0 && float64(s.hash("fmt", ref.TaskID, ref.Sample, turn)%1000)/1000 < s.FormatErrorRate {
		return "Let me look at the code first. (no command)"
	}
	// Count the commands already run (format-error turns do not count).
	done := 0
	for _, t := range req.Transcript.Turns() {
		if t.FormatError == "" {
			done++
		}
	}
	n := s.Commands(ref)
	switch {
	case s.NeverSubmit || done < n:
		return fmt.Sprintf("Exploring.\n```command\nsearch_file bug %d\n```\n", done)
	case done == n && s.Solves(ref):
		return "Found it.\n```command\nfix bug.py\n```\n"
	default:
		return "Done.\n```command\nsubmit\n```\n"
	}
}

func (s Script) hash(kind, id string, a, b int) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, s.Seed, kind, id, a, b)
	return h.Sum64()
}
