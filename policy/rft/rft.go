package rft

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

// Chat roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one chat message. Weight is the loss weight of an assistant message: 1 to
// train on it, 0 for a reply that caused a format error; it is written to JSON only on
// assistant messages.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Weight  int    `json:"weight"`
}

// MarshalJSON writes {"role","content"} and, on assistant messages only, "weight".
// Text is written as it is (no escaping of <, > and &).
func (m Message) MarshalJSON() ([]byte, error) {
	type wire struct {
		Role    string `json:"role"`
		Content string `json:"content"`
		Weight  *int   `json:"weight,omitempty"`
	}
	w := wire{Role: m.Role, Content: m.Content}
	if m.Role == RoleAssistant {
		weight := m.Weight
		w.Weight = &weight
	}
	return marshal(w)
}

// Example is one fine-tuning example: a resolved trajectory.
type Example struct {
	TaskID        string `json:"task_id"`
	Iteration     int    `json:"iteration"`
	PolicyVersion int    `json:"policy_version"`
	Group         int    `json:"group"`
	Sample        int    `json:"sample"`

	Messages []Message `json:"messages"`
	// InputIDs is the whole context the model saw (the record's token_ids); empty
	// when the records came from a text-only policy.
	InputIDs []int32 `json:"input_ids"`
	// LossMask is 1 on the assistant tokens of turns without a format error, 0
	// elsewhere; same length as InputIDs.
	LossMask []int8 `json:"loss_mask"`
}

// Options shape the chat messages.
type Options struct {
	// SystemPrompt is the first message; none is written when it is empty (for
	// swerl's scaffold, swe.SystemPrompt).
	SystemPrompt string
	// FirstMessage renders the user message that opens the episode from the task
	// (for swerl's scaffold, swe.FirstMessage); nil: the issue text as it is.
	FirstMessage func(task messages.TaskRef) string
	// TrainFormatErrors keeps format-error turns in the loss (an ablation; PAPER.md
	// masks them, which is the default).
	TrainFormatErrors bool
}

// Stats counts what Build kept and dropped.
type Stats struct {
	Records           int // records in
	Kept              int // resolved records turned into examples
	DroppedUnresolved int // finished but not resolved
	DroppedAbandoned  int // abandoned (infrastructure failure): never graded
	DroppedInvalid    int // resolved but failing records.Record.Validate
	DroppedEmpty      int // resolved but with no assistant turn to train on
	MaskedTurns       int // format-error turns of kept records masked out of the loss
	TrainedTurns      int // assistant turns with weight 1
	TrainedTokens     int // tokens with loss mask 1
}

// Build keeps the resolved, finished records and turns each into an Example, in the
// order given. It never modifies recs.
func Build(recs []records.Record, opts Options) ([]Example, Stats) {
	st := Stats{Records: len(recs)}
	var out []Example
	for _, r := range recs {
		switch {
		case r.Status != string(messages.Finished):
			st.DroppedAbandoned++
			continue
		case !r.Resolved:
			st.DroppedUnresolved++
			continue
		case r.Validate() != nil:
			st.DroppedInvalid++
			continue
		}
		ex, masked, trained := example(r, opts)
		if trained == 0 {
			st.DroppedEmpty++
			continue
		}
		st.Kept++
		st.MaskedTurns += masked
		st.TrainedTurns += trained
		for _, m := range ex.LossMask {
			st.TrainedTokens += int(m)
		}
		out = append(out, ex)
	}
	return out, st
}

// example builds the Example of a valid record, and counts its masked and trained
// assistant turns.
func example(r records.Record, opts Options) (ex Example, masked, trained int) {
	ex = Example{
		TaskID: r.TaskID, Iteration: r.Iteration, PolicyVersion: r.PolicyVersion, Group: r.Group, Sample: r.Sample,
		Messages: make([]Message, 0, 2+2*len(r.Turns)),
		InputIDs: append([]int32{}, r.TokenIDs...),
		LossMask: append([]int8{}, r.LossMask...),
	}
	if opts.SystemPrompt != "" {
		ex.Messages = append(ex.Messages, Message{Role: RoleSystem, Content: opts.SystemPrompt})
	}
	first := r.Issue
	if opts.FirstMessage != nil {
		first = opts.FirstMessage(messages.TaskRef{ID: r.TaskID, Statement: r.Issue})
	}
	ex.Messages = append(ex.Messages, Message{Role: RoleUser, Content: first})
	at := 0
	for i, t := range r.Turns {
		at += t.PromptTokens
		weight := 1
		if t.FormatError != "" && !opts.TrainFormatErrors {
			weight = 0
			masked++
			clear(ex.LossMask[at : at+t.AssistantTokens])
		} else {
			trained++
		}
		at += t.AssistantTokens
		ex.Messages = append(ex.Messages, Message{Role: RoleAssistant, Content: t.Assistant, Weight: weight})
		// The last observation (after submit) comes after everything trained on.
		if i < len(r.Turns)-1 {
			ex.Messages = append(ex.Messages, Message{Role: RoleUser, Content: t.Observation})
		}
	}
	return ex, masked, trained
}

// WriteJSONL writes the examples to w, one JSON object per line.
func WriteJSONL(w io.Writer, ex []Example) error {
	bw := bufio.NewWriter(w)
	for _, e := range ex {
		b, err := marshal(e)
		if err != nil {
			return fmt.Errorf("rft: encode %s (k%d/g%d/s%d): %w", e.TaskID, e.Iteration, e.Group, e.Sample, err)
		}
		if _, err := bw.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("rft: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("rft: write: %w", err)
	}
	return nil
}

// marshal is json.Marshal without HTML escaping (issues and code hold <, > and &).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
