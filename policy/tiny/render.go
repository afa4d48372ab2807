package tiny

import (
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// Context layout (deterministic, one id sequence per episode):
//
//	<obs> statement  { <cmd> assistant <obs> observation }*  <cmd>
//
// The model writes a reply after the final <cmd>: for instance
//
//	```command \n fix mod2.py 15 return a + b \n ``` <eos>
//
// which decodes to a fenced block swe.ParseCommand accepts. A finished turn contributes
// its own sampled token ids (Turn.AppendTokens) when it carries them, so training sees
// exactly what was sampled; a text-only turn (an expert trace) is encoded from its text
// and closed with <eos>.

// Span locates one assistant turn in a rendered context: ids [Start, End).
type Span struct {
	Start, End  int
	Turn        int  // index of the turn in the transcript
	FormatError bool // the turn's reply held no single command block
	// Sampled is true when the ids are the turn's own sampled tokens (they carry
	// sampling log-probs); false when they were encoded from the text.
	Sampled bool
}

// RenderRequest returns the context the model continues for req: the statement, every
// turn of the transcript, and a final Cmd. The slice is new and owned by the caller.
func (t *Tokenizer) RenderRequest(req policy.Request) []int32 {
	ids, _ := t.Render(req.Task.Statement, req.Transcript.Turns())
	return append(ids, Cmd)
}

// Render returns the context of statement and turns, without the trailing Cmd, and the
// span of each turn's assistant ids.
func (t *Tokenizer) Render(statement string, turns []messages.Turn) ([]int32, []Span) {
	ids := append(make([]int32, 0, 64), Obs)
	ids = t.Encode(ids, statement)
	spans := make([]Span, 0, len(turns))
	for i, turn := range turns {
		ids = append(ids, Cmd)
		sp := Span{Start: len(ids), Turn: i, FormatError: turn.FormatError != ""}
		if turn.NumTokens() > 0 {
			ids = turn.AppendTokens(ids)
			sp.Sampled = true
		} else {
			ids = t.EncodeReply(ids, turn.Assistant)
		}
		sp.End = len(ids)
		spans = append(spans, sp)
		ids = append(ids, Obs)
		ids = t.Encode(ids, turn.Observation)
	}
	return ids, spans
}

// EncodeReply appends the ids of an assistant reply as the model would write it:
// the encoded text, then EOS.
func (t *Tokenizer) EncodeReply(dst []int32, text string) []int32 {
	return append(t.Encode(dst, text), EOS)
}

// DecodeReply is the text of sampled reply ids: everything before the first EOS.
func (t *Tokenizer) DecodeReply(ids []int32) string {
	for i, id := range ids {
		if id == EOS {
			ids = ids[:i]
			break
		}
	}
	return t.Decode(ids)
}
