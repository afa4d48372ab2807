package records

import (
	"github.com/swerl/swerl/messages"
)

// Record is one episode as a trainer reads it: the flat, self-describing form of a
// messages.EpisodeRecord. JSON and Parquet use the same snake_case names (see the table
// in doc.go). A Record is a plain value; FromEpisode and the readers always return
// non-nil slices (empty, never nil), so two records compare with reflect.DeepEqual
// whatever path they came by.
type Record struct {
	TaskID        string `json:"task_id" parquet:"task_id"`
	Issue         string `json:"issue" parquet:"issue"`
	Iteration     int    `json:"iteration" parquet:"iteration"`
	PolicyVersion int    `json:"policy_version" parquet:"policy_version"`
	Group         int    `json:"group" parquet:"group"`
	Sample        int    `json:"sample" parquet:"sample"`

	Status       string `json:"status" parquet:"status"`
	StopReason   string `json:"stop_reason" parquet:"stop_reason"`
	FailureKind  string `json:"failure_kind" parquet:"failure_kind"`
	FailureCause string `json:"failure_cause" parquet:"failure_cause"`
	Attempts     int    `json:"attempts" parquet:"attempts"`
	Restarts     int    `json:"restarts" parquet:"restarts"`
	Retries      int    `json:"retries" parquet:"retries"`
	Stale        int    `json:"stale" parquet:"stale"`

	Resolved    bool     `json:"resolved" parquet:"resolved"`
	Reward      float64  `json:"reward" parquet:"reward"`
	TurnPenalty float64  `json:"turn_penalty" parquet:"turn_penalty"`
	RewardFinal float64  `json:"reward_final" parquet:"reward_final"`
	Advantage   *float64 `json:"advantage" parquet:"advantage,optional"`

	NumTurns  int     `json:"num_turns" parquet:"num_turns"`
	DurationS float64 `json:"duration_s" parquet:"duration_s"`
	Patch     string  `json:"patch" parquet:"patch"`
	Turns     []Turn  `json:"turns" parquet:"turns,list"`

	TokenIDs []int32   `json:"token_ids" parquet:"token_ids,list"`
	LossMask []int8    `json:"loss_mask" parquet:"loss_mask,list"`
	Logprobs []float32 `json:"logprobs" parquet:"logprobs,list"`
}

// Turn is one agent turn of a Record. PromptTokens and AssistantTokens count the
// turn's slice of Record.TokenIDs: first PromptTokens context tokens (system prompt
// and issue on the first turn, the previous observation later), then AssistantTokens
// tokens that the policy sampled.
type Turn struct {
	Index           int     `json:"index" parquet:"index"`
	PolicyVersion   int     `json:"policy_version" parquet:"policy_version"`
	Assistant       string  `json:"assistant" parquet:"assistant"`
	Command         string  `json:"command" parquet:"command"`
	FormatError     string  `json:"format_error" parquet:"format_error"`
	Observation     string  `json:"observation" parquet:"observation"`
	ExitCode        int     `json:"exit_code" parquet:"exit_code"`
	TimedOut        bool    `json:"timed_out" parquet:"timed_out"`
	GenerateS       float64 `json:"generate_s" parquet:"generate_s"`
	ExecS           float64 `json:"exec_s" parquet:"exec_s"`
	PromptTokens    int     `json:"prompt_tokens" parquet:"prompt_tokens"`
	AssistantTokens int     `json:"assistant_tokens" parquet:"assistant_tokens"`
}

// FromEpisode flattens an episode record. advantageKnown says whether r.Advantage has
// been set (by the coordinator, after the group was graded); when false the record's
// advantage is null. Token ids are the concatenation over turns of each turn's prompt
// tokens then its assistant tokens; the loss mask is 1 exactly on assistant tokens and
// the log-probs are the sampling log-probs there, 0 elsewhere (a turn that reports
// fewer log-probs than tokens gets 0 for the missing ones).
func FromEpisode(r messages.EpisodeRecord, advantageKnown bool) Record {
	turns := r.Transcript.Turns()
	out := Record{
		TaskID:        r.Ref.TaskID,
		Issue:         r.Task.Statement,
		Iteration:     r.Ref.Iteration,
		PolicyVersion: r.Ref.PolicyVersion,
		Group:         r.Ref.Group,
		Sample:        r.Ref.Sample,
		Status:        string(r.Status),
		StopReason:    string(r.Stop),
		FailureKind:   string(r.Failure.Kind),
		FailureCause:  r.Failure.Cause,
		Attempts:      r.Attempts,
		Restarts:      r.Restarts,
		Retries:       r.Retries,
		Stale:         r.Stale,
		Resolved:      r.Resolved,
		Reward:        r.Reward,
		TurnPenalty:   r.TurnPenalty,
		RewardFinal:   r.Final,
		NumTurns:      len(turns),
		DurationS:     r.Duration.Seconds(),
		Patch:         r.Patch,
		Turns:         make([]Turn, 0, len(turns)),
	}
	if out.TaskID == "" {
		out.TaskID = r.Task.ID
	}
	if advantageKnown {
		a := r.Advantage
		out.Advantage = &a
	}
	n := 0
	for _, t := range turns {
		n += t.NumPromptTokens() + t.NumTokens()
	}
	out.TokenIDs = make([]int32, 0, n)
	out.LossMask = make([]int8, 0, n)
	out.Logprobs = make([]float32, 0, n)
	var lp []float32
	for _, t := range turns {
		out.Turns = append(out.Turns, Turn{
			Index:           t.Index,
			PolicyVersion:   t.PolicyVersion,
			Assistant:       t.Assistant,
			Command:         t.Command,
			FormatError:     t.FormatError,
			Observation:     t.Observation,
			ExitCode:        t.ExitCode,
			TimedOut:        t.TimedOut,
			GenerateS:       t.GenerateTime.Seconds(),
			ExecS:           t.ExecTime.Seconds(),
			PromptTokens:    t.NumPromptTokens(),
			AssistantTokens: t.NumTokens(),
		})
		np, na := t.NumPromptTokens(), t.NumTokens()
		out.TokenIDs = t.AppendPrompt(out.TokenIDs)
		out.TokenIDs = t.AppendTokens(out.TokenIDs)
		for range np {
			out.LossMask = append(out.LossMask, 0)
			out.Logprobs = append(out.Logprobs, 0)
		}
		lp = t.AppendLogprobs(lp[:0])
		for i := range na {
			out.LossMask = append(out.LossMask, 1)
			var v float32
			if i < len(lp) {
				v = lp[i]
			}
			out.Logprobs = append(out.Logprobs, v)
		}
	}
	return out
}

// normalize makes every slice non-nil, so that a record decoded from JSON (where an
// empty list may have been written as null) or from Parquet compares equal to the one
// FromEpisode built.
func (r Record) normalize() Record {
	if r.Turns == nil {
		r.Turns = []Turn{}
	}
	if r.TokenIDs == nil {
		r.TokenIDs = []int32{}
	}
	if r.LossMask == nil {
		r.LossMask = []int8{}
	}
	if r.Logprobs == nil {
		r.Logprobs = []float32{}
	}
	return r
}

// AssistantTokens is the number of tokens the policy sampled in the episode (the sum
// of the turns' AssistantTokens).
func (r Record) AssistantTokens() int {
	n := 0
	for _, t := range r.Turns {
		n += t.AssistantTokens
	}
	return n
}
