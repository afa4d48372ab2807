package records

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid record")

// Validate checks the record's token invariants, which every record that FromEpisode
// builds satisfies and every trainer relies on:
//   - token_ids, loss_mask and logprobs have the same length;
//   - loss_mask holds only 0 and 1;
//   - logprobs is 0 where the mask is 0, and a finite value <= 0 where it is 1;
//   - num_turns == len(turns);
//   - the turns' prompt_tokens + assistant_tokens add up to len(token_ids);
//   - the mask's sum equals the turns' assistant_tokens;
//   - turn by turn, the mask is 0 on the prompt tokens and 1 on the assistant tokens.
//
// The first broken invariant is returned, wrapping ErrInvalid and naming the record.
func (r Record) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w k%d/g%d/s%d(%s): %s", ErrInvalid, r.Iteration, r.Group, r.Sample, r.TaskID, fmt.Sprintf(format, args...))
	}
	n := len(r.TokenIDs)
	if len(r.LossMask) != n || len(r.Logprobs) != n {
		return bad("lengths differ: token_ids %d, loss_mask %d, logprobs %d", n, len(r.LossMask), len(r.Logprobs))
	}
	ones := 0
	for i, m := range r.LossMask {
		switch m {
		case 0:
			if r.Logprobs[i] != 0 {
				return bad("logprobs[%d] = %g where loss_mask is 0 (want 0)", i, r.Logprobs[i])
			}
		case 1:
			ones++
			lp := float64(r.Logprobs[i])
			if lp > 0 || math.IsNaN(lp) || math.IsInf(lp, 0) {
				return bad("logprobs[%d] = %g on an assistant token (want a finite value <= 0)", i, lp)
			}
		default:
			return bad("loss_mask[%d] = %d (want 0 or 1)", i, m)
		}
	}
	if r.NumTurns != len(r.Turns) {
		return bad("num_turns %d but %d turns", r.NumTurns, len(r.Turns))
	}
	total, assistant := 0, 0
	for _, t := range r.Turns {
		if t.PromptTokens < 0 || t.AssistantTokens < 0 {
			return bad("turn %d has negative token counts (%d, %d)", t.Index, t.PromptTokens, t.AssistantTokens)
		}
		total += t.PromptTokens + t.AssistantTokens
		assistant += t.AssistantTokens
	}
	if total != n {
		return bad("turns count %d prompt+assistant tokens but token_ids has %d", total, n)
	}
	if ones != assistant {
		return bad("loss_mask has %d ones but the turns have %d assistant tokens", ones, assistant)
	}
	at := 0
	for _, t := range r.Turns {
		for i := at; i < at+t.PromptTokens; i++ {
			if r.LossMask[i] != 0 {
				return bad("loss_mask[%d] = 1 on a prompt token of turn %d", i, t.Index)
			}
		}
		at += t.PromptTokens
		for i := at; i < at+t.AssistantTokens; i++ {
			if r.LossMask[i] != 1 {
				return bad("loss_mask[%d] = 0 on an assistant token of turn %d", i, t.Index)
			}
		}
		at += t.AssistantTokens
	}
	return nil
}
