package messages

import "time"

// GenerateRequest asks the inference actor for the next assistant reply of an episode.
// Turn numbers the reply within the attempt; Deadline bounds the call (the turn's
// deadline, never later than the episode's).
type GenerateRequest struct {
	Ref        EpisodeRef
	Attempt    int
	Turn       int
	Task       TaskRef
	Transcript Transcript
	Deadline   time.Time
}

// GenerateReply is the policy's reply: the text and, for token-level policies, the
// token ids and their sampling log-probs. PolicyVersion is the version that produced
// it; the episode drops a reply whose version is not its own. Overflow says the
// context budget ran out: the text (possibly empty) is what was produced before it,
// and the episode ends with stop reason context_overflow.
type GenerateReply struct {
	Ref           EpisodeRef
	Attempt       int
	Turn          int
	PolicyVersion int
	Text          string
	Overflow      bool
	Elapsed       time.Duration

	prompt   []int32
	tokens   []int32
	logprobs []float32
}

// NewGenerateReply builds a reply, copying tokens and logprobs in.
func NewGenerateReply(r GenerateReply, tokens []int32, logprobs []float32) GenerateReply {
	r.tokens = cloneSlice(tokens)
	r.logprobs = cloneSlice(logprobs)
	return r
}

// WithPrompt returns r carrying a copy of prompt: the context tokens the policy
// appended before generating (token-in policies).
func (r GenerateReply) WithPrompt(prompt []int32) GenerateReply {
	r.prompt = cloneSlice(prompt)
	return r
}

// Prompt returns a copy of the prompt token ids.
func (r GenerateReply) Prompt() []int32 { return cloneSlice(r.prompt) }

// NumTokens is the number of produced token ids.
func (r GenerateReply) NumTokens() int { return len(r.tokens) }

// Tokens returns a copy of the produced token ids.
func (r GenerateReply) Tokens() []int32 { return cloneSlice(r.tokens) }

// Logprobs returns a copy of the sampling log-probs of the produced tokens.
func (r GenerateReply) Logprobs() []float32 { return cloneSlice(r.logprobs) }

// GenerateFailed reports that the policy could not produce a reply.
type GenerateFailed struct {
	Ref     EpisodeRef
	Attempt int
	Turn    int
	Failure Failure
}

// SandboxReady reports that the episode's sandbox for Attempt is up.
type SandboxReady struct {
	Ref     EpisodeRef
	Attempt int
	Elapsed time.Duration
	Prompt  string // the scaffold's prompt line, "" without a scaffold
}

// SandboxFailed reports that the sandbox of Attempt could not start or died.
type SandboxFailed struct {
	Ref     EpisodeRef
	Attempt int
	Failure Failure
}

// ExecRequest asks the sandbox to run one command before Deadline.
type ExecRequest struct {
	Ref      EpisodeRef
	Attempt  int
	Turn     int
	Command  string
	Deadline time.Time
}

// ExecResult is what the command produced. TimedOut means the command hit its
// deadline; that is the agent's outcome (an observation), not an infrastructure failure.
type ExecResult struct {
	Ref      EpisodeRef
	Attempt  int
	Turn     int
	Output   string
	ExitCode int
	TimedOut bool
	Elapsed  time.Duration
	Prompt   string // the scaffold's prompt line after the command
}

// DiffRequest asks the sandbox for the patch of the working tree (the episode's answer).
type DiffRequest struct {
	Ref      EpisodeRef
	Attempt  int
	Deadline time.Time
}

// DiffResult carries the patch.
type DiffResult struct {
	Ref     EpisodeRef
	Attempt int
	Patch   string
}

// GradeRequest asks a grader to judge Patch against the task's tests.
type GradeRequest struct {
	Ref      EpisodeRef
	Attempt  int
	Try      int
	Task     TaskRef
	Patch    string
	Deadline time.Time
}

// GradeResult is the grader's verdict. A patch that does not apply or tests that time
// out are Resolved=false here; only a grader that could not judge sends GradeFailed.
type GradeResult struct {
	Ref      EpisodeRef
	Attempt  int
	Try      int
	Resolved bool
	Detail   string
	Elapsed  time.Duration
}

// GradeFailed reports a grader infrastructure failure.
type GradeFailed struct {
	Ref     EpisodeRef
	Attempt int
	Try     int
	Failure Failure
}
