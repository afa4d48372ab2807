package tiny

import (
	"fmt"

	"github.com/swerl/swerl/messages"
)

// A position is one trained token: the target ctx[i] of sequence seq, predicted from
// the Window ids before it, with the log-prob it was sampled with.
type position struct {
	seq int32
	i   int32
	old float32
}

// sequence is one trajectory's rendered context and its advantage.
type sequence struct {
	ctx   []int32
	adv   float32
	first int // index of its first position
	n     int // its trained positions: positions[first : first+n]
}

// positions turns records into trained positions: every assistant token, and only
// those (statement and observation ids are context); with maskFormatErrors, the turns
// whose reply was a format error are context too. needOld requires each trained turn
// to carry its sampled tokens and their log-probs (DAPO); without it (SFT) a text-only
// turn is encoded from its text.
func (t *Tokenizer) positions(records []messages.EpisodeRecord, maskFormatErrors, needOld bool) ([]sequence, []position, error) {
	seqs := make([]sequence, 0, len(records))
	var pos []position
	v := int32(t.Size())
	var lps []float32
	for ri, r := range records {
		turns := r.Transcript.Turns()
		ctx, spans := t.Render(r.Task.Statement, turns)
		seq := sequence{ctx: ctx, adv: float32(r.Advantage), first: len(pos)}
		for _, sp := range spans {
			if maskFormatErrors && sp.FormatError {
				continue
			}
			turn := turns[sp.Turn]
			var old []float32
			if needOld {
				if !sp.Sampled {
					return nil, nil, fmt.Errorf("tiny: record %d (%v) turn %d has no sampled token ids: DAPO needs the sampling log-probs", ri, r.Ref, sp.Turn)
				}
				lps = turn.AppendLogprobs(lps[:0])
				if len(lps) != sp.End-sp.Start {
					return nil, nil, fmt.Errorf("tiny: record %d (%v) turn %d has %d tokens but %d log-probs", ri, r.Ref, sp.Turn, sp.End-sp.Start, len(lps))
				}
				old = lps
			}
			for i := sp.Start; i < sp.End; i++ {
				if ctx[i] < 0 || ctx[i] >= v {
					return nil, nil, fmt.Errorf("tiny: record %d (%v) turn %d holds token id %d outside the vocabulary [0, %d)", ri, r.Ref, sp.Turn, ctx[i], v)
				}
				p := position{seq: int32(len(seqs)), i: int32(i)}
				if old != nil {
					p.old = old[i-sp.Start]
				}
				pos = append(pos, p)
				seq.n++
			}
		}
		seqs = append(seqs, seq)
	}
	return seqs, pos, nil
}
