package openaitest

import (
	"strings"
)

// Token ids of the stub's tokenizer: ids 0..255 are the bytes, then Qwen2.5's 22
// added tokens (Specials, in order from 256), recognised wherever their text appears,
// as a Hugging Face tokenizer recognises added tokens.
const (
	ImStart   int32 = 256 // "<|im_start|>"
	ImEnd     int32 = 257 // "<|im_end|>"
	EndOfText int32 = 258 // "<|endoftext|>"
)

// Specials are the texts of the special tokens; Specials[i] has id 256+i.
var Specials = []string{
	"<|im_start|>", "<|im_end|>", "<|endoftext|>",
	"<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
	"<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
	"<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
	"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
	"<|repo_name|>", "<|file_sep|>",
}

// IsSpecial reports whether id is a special token.
func IsSpecial(id int32) bool { return id >= 256 && int(id) < 256+len(Specials) }

// Encode tokenizes s at the byte level, special tokens first: every occurrence of a
// special's text becomes its id, every other byte its own value.
func Encode(s string) []int32 {
	ids := make([]int32, 0, len(s))
outer:
	for i := 0; i < len(s); {
		if s[i] == '<' {
			for j, sp := range Specials {
				if strings.HasPrefix(s[i:], sp) {
					ids = append(ids, 256+int32(j))
					i += len(sp)
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
		case IsSpecial(id):
			if !skipSpecial {
				b.WriteString(Specials[id-256])
			}
		default:
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}
