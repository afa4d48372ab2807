package sim

import (
	"context"
	"fmt"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

// Episode is the outcome of one synchronous episode.
type Episode struct {
	Resolved   bool
	Detail     string // the grader's verdict
	Stop       messages.StopReason
	Patch      string
	Transcript messages.Transcript
}

// Words counts the words of the episode's context: the statement, then every
// assistant reply and observation (line breaks count as words).
func (e Episode) Words(task Task) int {
	n := len(Words(task.Statement))
	for _, t := range e.Transcript.Turns() {
		n += len(Words(t.Assistant)) + len(Words(t.Observation))
	}
	return n
}

// Run runs one episode of task with p, without the actor engine, as sample 0 of
// group 0 of iteration 0 (see RunEpisode).
func Run(ctx context.Context, p policy.Policy, task Task, turnCap int) (Episode, error) {
	return RunEpisode(ctx, p, task, messages.EpisodeRef{TaskID: task.ID}, turnCap)
}

// RunEpisode runs one episode synchronously the way the engine's episode actor does:
// each reply is parsed with swe.ParseCommand; a format error is a turn whose
// observation is the error; submit ends the episode; anything else runs in the task's
// sandbox. At the turn cap the working tree is the answer. The patch is graded with
// the task's tests. An error is the policy's (or ctx's); the sim world has no
// infrastructure failures.
func RunEpisode(ctx context.Context, p policy.Policy, task Task, ref messages.EpisodeRef, turnCap int) (Episode, error) {
	sb := task.NewSandbox()
	defer sb.Close(context.WithoutCancel(ctx))
	ep := Episode{Stop: messages.StopTurnCap}
	ref.TaskID = task.ID
	for turn := 0; turn < turnCap; turn++ {
		r, err := p.Generate(ctx, policy.Request{Ref: ref, Attempt: 1, Turn: turn, Task: task.TaskRef(),
			Transcript: ep.Transcript, Version: ref.PolicyVersion})
		if err != nil {
			return ep, fmt.Errorf("turn %d: %w", turn, err)
		}
		cmd, ferr := swe.ParseCommand(r.Text)
		t := messages.Turn{Index: turn, PolicyVersion: ref.PolicyVersion, Assistant: r.Text, Command: cmd, FormatError: ferr}
		switch {
		case ferr != "":
			t.Observation = ferr
		case cmd == swe.SubmitCommand:
			ep.Transcript = ep.Transcript.Append(messages.NewTurn(t, r.Tokens, r.Logprobs))
			ep.Stop = messages.StopSubmit
		default:
			out, err := sb.Exec(ctx, cmd)
			if err != nil {
				return ep, fmt.Errorf("turn %d: %w", turn, err)
			}
			t.Observation, t.ExitCode = out.Text, out.ExitCode
		}
		if ep.Stop == messages.StopSubmit {
			break
		}
		ep.Transcript = ep.Transcript.Append(messages.NewTurn(t, r.Tokens, r.Logprobs))
	}
	patch, err := sb.Diff(ctx)
	if err != nil {
		return ep, err
	}
	ep.Patch = patch
	v := task.Grade(patch)
	ep.Resolved, ep.Detail = v.Resolved, v.Detail
	return ep, nil
}
