package openai

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

// part is a piece of a segment's text. The template's pieces are trusted: their
// special tokens are meant. Text from the environment and the task (the issue, an
// observation, the system prompt) is not: no special token may come out of it.
type part struct {
	text    string
	trusted bool
}

// segmentParts is the text that goes between the context and the new reply: the
// system and first user messages on the first turn; later, the end of the last reply
// (if the model did not end its turn), the separator and the last observation.
func (p *Policy) segmentParts(task messages.TaskRef, turns []messages.Turn, history []int32) []part {
	t := p.cfg.Template
	message := func(tmpl, content string) []part {
		before, after, _ := strings.Cut(tmpl, Content)
		return []part{{before, true}, {content, false}, {after, true}}
	}
	var parts []part
	if len(turns) == 0 {
		parts = append(parts, message(t.System, p.cfg.SystemPrompt)...)
		parts = append(parts, message(t.User, swe.FirstMessage(task))...)
		return append(parts, part{t.AssistantStart, true})
	}
	if !p.endsTurn(history[len(history)-1]) {
		parts = append(parts, part{t.EndOfTurn, true})
	}
	parts = append(parts, part{t.Separator, true})
	parts = append(parts, message(t.User, turns[len(turns)-1].Observation)...)
	return append(parts, part{t.AssistantStart, true})
}

// tokenizeParts tokenizes a segment so that no special token comes from untrusted
// text. The text is tokenized whole when its untrusted parts hold no special token's
// text (the usual case: one request, the tokenization the model knows); otherwise it
// is cut inside every such occurrence, after its first character, and the pieces are
// tokenized one by one, so the occurrence comes out as ordinary text tokens. The
// result is checked: it must hold exactly the trusted parts' special tokens.
func (p *Policy) tokenizeParts(ctx context.Context, b *retryBudget, info *serverInfo, parts []part) ([]int32, error) {
	var text strings.Builder
	var cuts []int
	wantSpecials := 0
	for _, pt := range parts {
		start := text.Len()
		text.WriteString(pt.text)
		for s := range info.specials {
			n := strings.Count(pt.text, s)
			if n == 0 {
				continue
			}
			if pt.trusted {
				wantSpecials += n
				continue
			}
			for i, off := 0, 0; i < n; i++ {
				j := strings.Index(pt.text[off:], s) + off
				_, size := utf8.DecodeRuneInString(s)
				cuts = append(cuts, start+j+size)
				off = j + len(s)
			}
		}
	}
	full := text.String()
	sort.Ints(cuts)
	var ids []int32
	from := 0
	for _, c := range append(cuts, len(full)) {
		if c == from {
			continue
		}
		piece, err := p.tokenize(ctx, b, full[from:c])
		if err != nil {
			return nil, err
		}
		ids = append(ids, piece...)
		from = c
	}
	got := 0
	for _, id := range ids {
		if info.specialIDs[id] {
			got++
		}
	}
	if got != wantSpecials {
		return nil, &policy.Error{Err: fmt.Errorf(
			"openai: the segment tokenized by %s holds %d special tokens where its template has %d: text from the environment would have become control tokens (check Config.SpecialTokens against the model's tokenizer)",
			p.base, got, wantSpecials)}
	}
	return ids, nil
}
