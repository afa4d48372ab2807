package wire

import (
	"time"

	"github.com/swerl/swerl/messages"
)

// Ref converts an episode ref to its wire form.
func Ref(r messages.EpisodeRef) *EpisodeRef {
	return &EpisodeRef{
		Iteration:     int64(r.Iteration),
		PolicyVersion: int64(r.PolicyVersion),
		Group:         int64(r.Group),
		Sample:        int64(r.Sample),
		TaskId:        r.TaskID,
	}
}

// Msg converts r back; a nil r gives the zero ref.
func (r *EpisodeRef) Msg() messages.EpisodeRef {
	if r == nil {
		return messages.EpisodeRef{}
	}
	return messages.EpisodeRef{
		Iteration:     int(r.Iteration),
		PolicyVersion: int(r.PolicyVersion),
		Group:         int(r.Group),
		Sample:        int(r.Sample),
		TaskID:        r.TaskId,
	}
}

// Task converts a task ref to its wire form.
func Task(t messages.TaskRef) *TaskRef {
	return &TaskRef{Id: t.ID, Statement: t.Statement}
}

// Msg converts t back; a nil t gives the zero task ref.
func (t *TaskRef) Msg() messages.TaskRef {
	if t == nil {
		return messages.TaskRef{}
	}
	return messages.TaskRef{ID: t.Id, Statement: t.Statement}
}

// FailureOf converts a failure to its wire form.
func FailureOf(f messages.Failure) *Failure {
	return &Failure{Kind: string(f.Kind), Retryable: f.Retryable, Cause: f.Cause}
}

// Msg converts f back; a nil f gives the zero failure.
func (f *Failure) Msg() messages.Failure {
	if f == nil {
		return messages.Failure{}
	}
	return messages.Failure{Kind: messages.FailureKind(f.Kind), Retryable: f.Retryable, Cause: f.Cause}
}

// TurnOf converts a turn, with copies of its prompt, tokens and log-probs.
func TurnOf(t messages.Turn) *Turn {
	return &Turn{
		Index:          int64(t.Index),
		PolicyVersion:  int64(t.PolicyVersion),
		Assistant:      t.Assistant,
		Command:        t.Command,
		FormatError:    t.FormatError,
		Observation:    t.Observation,
		ExitCode:       int64(t.ExitCode),
		TimedOut:       t.TimedOut,
		GenerateTimeNs: int64(t.GenerateTime),
		ExecTimeNs:     int64(t.ExecTime),
		Prompt:         t.AppendPrompt(nil),
		Tokens:         t.AppendTokens(nil),
		Logprobs:       t.AppendLogprobs(nil),
	}
}

// Msg converts t back, copying its slices; a nil t gives the zero turn.
func (t *Turn) Msg() messages.Turn {
	if t == nil {
		return messages.Turn{}
	}
	return messages.NewTurnWithPrompt(messages.Turn{
		Index:         int(t.Index),
		PolicyVersion: int(t.PolicyVersion),
		Assistant:     t.Assistant,
		Command:       t.Command,
		FormatError:   t.FormatError,
		Observation:   t.Observation,
		ExitCode:      int(t.ExitCode),
		TimedOut:      t.TimedOut,
		GenerateTime:  time.Duration(t.GenerateTimeNs),
		ExecTime:      time.Duration(t.ExecTimeNs),
	}, t.Prompt, t.Tokens, t.Logprobs)
}

// Transcript converts a transcript to its turns in order (nil when it is empty).
func Transcript(tr messages.Transcript) []*Turn {
	if tr.Len() == 0 {
		return nil
	}
	turns := tr.Turns()
	out := make([]*Turn, len(turns))
	for i, t := range turns {
		out[i] = TurnOf(t)
	}
	return out
}

// TranscriptMsg builds the transcript of turns, in order; nil entries become zero
// turns.
func TranscriptMsg(turns []*Turn) messages.Transcript {
	var tr messages.Transcript
	for _, t := range turns {
		tr = tr.Append(t.Msg())
	}
	return tr
}

// RecordOf converts an episode record to its wire form.
func RecordOf(r messages.EpisodeRecord) *EpisodeRecord {
	return &EpisodeRecord{
		Ref:         Ref(r.Ref),
		Task:        Task(r.Task),
		Status:      string(r.Status),
		Stop:        string(r.Stop),
		Failure:     FailureOf(r.Failure),
		Attempts:    int64(r.Attempts),
		Restarts:    int64(r.Restarts),
		Retries:     int64(r.Retries),
		Stale:       int64(r.Stale),
		Turns:       Transcript(r.Transcript),
		Patch:       r.Patch,
		Resolved:    r.Resolved,
		Reward:      r.Reward,
		TurnPenalty: r.TurnPenalty,
		Final:       r.Final,
		Advantage:   r.Advantage,
		DurationNs:  int64(r.Duration),
	}
}

// Msg converts r back; a nil r gives the zero record.
func (r *EpisodeRecord) Msg() messages.EpisodeRecord {
	if r == nil {
		return messages.EpisodeRecord{}
	}
	return messages.EpisodeRecord{
		Ref:         r.Ref.Msg(),
		Task:        r.Task.Msg(),
		Status:      messages.Status(r.Status),
		Stop:        messages.StopReason(r.Stop),
		Failure:     r.Failure.Msg(),
		Attempts:    int(r.Attempts),
		Restarts:    int(r.Restarts),
		Retries:     int(r.Retries),
		Stale:       int(r.Stale),
		Transcript:  TranscriptMsg(r.Turns),
		Patch:       r.Patch,
		Resolved:    r.Resolved,
		Reward:      r.Reward,
		TurnPenalty: r.TurnPenalty,
		Final:       r.Final,
		Advantage:   r.Advantage,
		Duration:    time.Duration(r.DurationNs),
	}
}

// GenerateRequestOf converts a generate request sent under fence; shim is the
// worker-side actor the reply goes to. The fence and shim are used, not copied.
func GenerateRequestOf(fence *Fence, m messages.GenerateRequest, shim *PID) *GenerateRequest {
	return &GenerateRequest{
		Fence:          fence,
		Ref:            Ref(m.Ref),
		Attempt:        int64(m.Attempt),
		Turn:           int64(m.Turn),
		Task:           Task(m.Task),
		Transcript:     Transcript(m.Transcript),
		DeadlineUnixNs: unixNs(m.Deadline),
		Shim:           shim,
	}
}

// Msg converts r back (its fence and shim stay on the wire message); a nil r gives
// the zero request. The deadline comes back as the same instant in the local zone,
// without a monotonic reading; a zero deadline stays the zero time (and so does the
// instant of the Unix epoch, which no deadline is).
func (r *GenerateRequest) Msg() messages.GenerateRequest {
	if r == nil {
		return messages.GenerateRequest{}
	}
	return messages.GenerateRequest{
		Ref:        r.Ref.Msg(),
		Attempt:    int(r.Attempt),
		Turn:       int(r.Turn),
		Task:       r.Task.Msg(),
		Transcript: TranscriptMsg(r.Transcript),
		Deadline:   fromUnixNs(r.DeadlineUnixNs),
	}
}

// GenerateReplyOf converts a generate reply sent under fence (used, not copied), with
// copies of its prompt, tokens and log-probs.
func GenerateReplyOf(fence *Fence, m messages.GenerateReply) *GenerateReply {
	return &GenerateReply{
		Fence:         fence,
		Ref:           Ref(m.Ref),
		Attempt:       int64(m.Attempt),
		Turn:          int64(m.Turn),
		PolicyVersion: int64(m.PolicyVersion),
		Text:          m.Text,
		Overflow:      m.Overflow,
		ElapsedNs:     int64(m.Elapsed),
		Prompt:        m.Prompt(),
		Tokens:        m.Tokens(),
		Logprobs:      m.Logprobs(),
	}
}

// Msg converts r back, copying its slices (its fence stays on the wire message); a
// nil r gives the zero reply.
func (r *GenerateReply) Msg() messages.GenerateReply {
	if r == nil {
		return messages.GenerateReply{}
	}
	return messages.NewGenerateReply(messages.GenerateReply{
		Ref:           r.Ref.Msg(),
		Attempt:       int(r.Attempt),
		Turn:          int(r.Turn),
		PolicyVersion: int(r.PolicyVersion),
		Text:          r.Text,
		Overflow:      r.Overflow,
		Elapsed:       time.Duration(r.ElapsedNs),
	}, r.Tokens, r.Logprobs).WithPrompt(r.Prompt)
}

// GenerateFailedOf converts a generate failure sent under fence (used, not copied).
func GenerateFailedOf(fence *Fence, m messages.GenerateFailed) *GenerateFailed {
	return &GenerateFailed{
		Fence:   fence,
		Ref:     Ref(m.Ref),
		Attempt: int64(m.Attempt),
		Turn:    int64(m.Turn),
		Failure: FailureOf(m.Failure),
	}
}

// Msg converts f back (its fence stays on the wire message); a nil f gives the zero
// value.
func (f *GenerateFailed) Msg() messages.GenerateFailed {
	if f == nil {
		return messages.GenerateFailed{}
	}
	return messages.GenerateFailed{
		Ref:     f.Ref.Msg(),
		Attempt: int(f.Attempt),
		Turn:    int(f.Turn),
		Failure: f.Failure.Msg(),
	}
}

// unixNs is t as Unix nanoseconds, 0 for the zero time.
func unixNs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNs is the inverse of unixNs: 0 is the zero time.
func fromUnixNs(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
