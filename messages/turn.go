package messages

import "time"

// Turn is one completed agent turn: the assistant's reply, the command parsed from it,
// and what the sandbox answered. A turn whose reply held no single command block has
// FormatError set and no command; its observation is the error text.
type Turn struct {
	Index         int
	PolicyVersion int
	Assistant     string
	Command       string
	FormatError   string
	Observation   string
	ExitCode      int
	TimedOut      bool
	GenerateTime  time.Duration
	ExecTime      time.Duration

	prompt   []int32
	tokens   []int32
	logprobs []float32
}

// NewTurn builds a turn, copying the assistant's token ids and their sampling
// log-probs in.
func NewTurn(t Turn, tokens []int32, logprobs []float32) Turn {
	t.tokens = cloneSlice(tokens)
	t.logprobs = cloneSlice(logprobs)
	return t
}

// NewTurnWithPrompt is NewTurn for token-in policies: prompt holds the context tokens
// the policy appended before this turn's assistant tokens (the system prompt and the
// issue on the first turn, the previous observation in the chat template later).
func NewTurnWithPrompt(t Turn, prompt, tokens []int32, logprobs []float32) Turn {
	t = NewTurn(t, tokens, logprobs)
	t.prompt = cloneSlice(prompt)
	return t
}

// TurnFrom builds a turn carrying the reply's prompt tokens, tokens and log-probs. The
// values are immutable, so they share the slices instead of copying them.
func TurnFrom(t Turn, r GenerateReply) Turn {
	t.prompt, t.tokens, t.logprobs = r.prompt, r.tokens, r.logprobs
	return t
}

// NumPromptTokens is the number of context tokens that came before the turn's
// assistant tokens (0 for a policy that does not report them).
func (t Turn) NumPromptTokens() int { return len(t.prompt) }

// AppendPrompt appends the turn's prompt token ids to dst and returns it.
func (t Turn) AppendPrompt(dst []int32) []int32 { return append(dst, t.prompt...) }

// NumTokens is the number of assistant tokens of the turn.
func (t Turn) NumTokens() int { return len(t.tokens) }

// AppendTokens appends the turn's assistant token ids to dst and returns it.
func (t Turn) AppendTokens(dst []int32) []int32 { return append(dst, t.tokens...) }

// AppendLogprobs appends the sampling log-probs of the assistant tokens to dst.
func (t Turn) AppendLogprobs(dst []float32) []float32 { return append(dst, t.logprobs...) }

// Transcript is an immutable, persistent list of turns. Append returns a new
// transcript that shares the earlier turns with the old one, so passing the whole
// history in every generate request costs nothing, and nobody can change a turn that
// another actor holds. The zero value is the empty transcript.
type Transcript struct {
	last *transcriptNode
}

type transcriptNode struct {
	turn Turn
	prev *transcriptNode
	len  int
}

// Append returns the transcript with t added at the end.
func (tr Transcript) Append(t Turn) Transcript {
	n := 1
	if tr.last != nil {
		n = tr.last.len + 1
	}
	return Transcript{last: &transcriptNode{turn: t, prev: tr.last, len: n}}
}

// Len is the number of turns.
func (tr Transcript) Len() int {
	if tr.last == nil {
		return 0
	}
	return tr.last.len
}

// Last returns the last turn and whether there is one.
func (tr Transcript) Last() (Turn, bool) {
	if tr.last == nil {
		return Turn{}, false
	}
	return tr.last.turn, true
}

// Turns returns the turns in order, in a new slice owned by the caller.
func (tr Transcript) Turns() []Turn {
	out := make([]Turn, tr.Len())
	for n, i := tr.last, tr.Len()-1; n != nil; n, i = n.prev, i-1 {
		out[i] = n.turn
	}
	return out
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}
