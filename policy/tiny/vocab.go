package tiny

import (
	"fmt"
	"strings"
)

// Special token ids. They come first in every Tokenizer, in this order, so their ids
// never depend on the vocabulary.
const (
	Pad     int32 = iota // left padding of a window; never trained, masked in attention
	Unk                  // a word outside the vocabulary
	EOS                  // end of an assistant reply
	Cmd                  // start of an assistant turn: the model writes after it
	Obs                  // start of an observation (the statement is the first one)
	FenceOp              // "```command", the opening line of a command block
	FenceCl              // "```", the closing line of a command block
	Newline              // "\n"
	numSpecial
)

var specialText = [numSpecial]string{
	Pad: "<pad>", Unk: "<unk>", EOS: "<eos>", Cmd: "<cmd>", Obs: "<obs>",
	FenceOp: "```command", FenceCl: "```", Newline: "\n",
}

// Tokenizer is word-level: a text is lines separated by "\n", a line is words
// separated by spaces. Ids 0..7 are the specials (Pad ... Newline); the vocabulary's
// words follow in the order given. A Tokenizer is immutable and safe for concurrent use.
type Tokenizer struct {
	words []string         // id -> text
	ids   map[string]int32 // text -> id
}

// NewTokenizer builds a tokenizer over vocab (for SimSWE, sim.Vocab()). Empty words,
// words holding a space or a line break, and repeats (of a special or of an earlier
// word) are skipped, so the ids are a pure function of vocab.
func NewTokenizer(vocab []string) *Tokenizer {
	t := &Tokenizer{ids: make(map[string]int32, len(vocab)+int(numSpecial))}
	for _, w := range specialText {
		t.add(w)
	}
	for _, w := range vocab {
		if w == "" || strings.ContainsAny(w, " \n\r\t") {
			continue
		}
		if _, dup := t.ids[w]; dup {
			continue
		}
		t.add(w)
	}
	return t
}

func (t *Tokenizer) add(w string) {
	t.ids[w] = int32(len(t.words))
	t.words = append(t.words, w)
}

// Size is the number of token ids, specials included.
func (t *Tokenizer) Size() int { return len(t.words) }

// Words returns the vocabulary without the specials, in id order (a new slice), such
// that NewTokenizer(t.Words()) gives the same ids.
func (t *Tokenizer) Words() []string {
	return append([]string(nil), t.words[numSpecial:]...)
}

// ID returns the id of word, and false (with Unk) when it is not in the vocabulary.
func (t *Tokenizer) ID(word string) (int32, bool) {
	id, ok := t.ids[word]
	if !ok {
		return Unk, false
	}
	return id, true
}

// Word returns the text of id; ids out of range read "<unk>".
func (t *Tokenizer) Word(id int32) string {
	if id < 0 || int(id) >= len(t.words) {
		return specialText[Unk]
	}
	return t.words[id]
}

// Encode appends the ids of text to dst and returns it. Words are split on spaces
// (runs of blanks and tabs count as one separator); each line break is a Newline token.
// Unknown words become Unk.
func (t *Tokenizer) Encode(dst []int32, text string) []int32 {
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			dst = append(dst, Newline)
		}
		for _, w := range strings.Fields(line) {
			id, _ := t.ID(w)
			dst = append(dst, id)
		}
	}
	return dst
}

// Decode renders ids as text: words joined by single spaces, no space on either side of
// a line break. Pad and EOS render as nothing; other specials as their text.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	atLineStart := true
	for _, id := range ids {
		switch id {
		case Pad, EOS:
			continue
		case Newline:
			b.WriteByte('\n')
			atLineStart = true
			continue
		}
		if !atLineStart {
			b.WriteByte(' ')
		}
		b.WriteString(t.Word(id))
		atLineStart = false
	}
	return b.String()
}

// Normalize is the text Decode(Encode(text)) gives for in-vocabulary text: blanks
// collapsed to single spaces, no blank around a line break.
func Normalize(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func (t *Tokenizer) String() string {
	return fmt.Sprintf("tiny.Tokenizer(%d ids)", len(t.words))
}
