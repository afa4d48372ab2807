package openaitest

import (
	"strings"
)

// Token ids of the stub's tokenizer: ids 0..255 are the bytes, then three specials that
// are recognised wherever their text appears.
const (
	ImStart   int32 = 256 // "<|im_start|>"
	ImEnd     int32 = 257 // "<|im_end|>"
	EndOfText int32 = 258 // "<|endoftext|>"
)

var specials = []struct {
	text string
	id   int32
}{
	{"<|im_start|>", ImStart},
	{"<|im_end|>", ImEnd},
	{"<|endoftext|>", EndOfText},
}

// Encode tokenizes s at the byte level, special tokens first: every occurrence of a
// special's text becomes its id, every other byte its own value.
func Encode(s string) []int32 {
	ids := make([]int32, 0, len(s))
outer:
	for i := 0; i < len(s); {
		if s[i] == '<' {
			for _, sp := range specials {
				if strings.HasPrefix(s[i:], sp.text) {
					ids = append(ids, sp.id)
					i += len(sp.text)
					continue outer
				}
			}
		}
		ids = append(ids, int32(s[i]))
		i++
	}
	return ids
}

// Decode renders ids back to text, specials as their strings; an id outside the
// vocabulary renders as U+FFFD.
func Decode(ids []int32) string {
	return decode(ids, false)
}

func decode(ids []int32, skipSpecial bool) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id >= 0 && id < 256:
			b.WriteByte(byte(id))
		case id >= ImStart && id <= EndOfText:
			if !skipSpecial {
				b.WriteString(specials[id-ImStart].text)
			}
		default:
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}
