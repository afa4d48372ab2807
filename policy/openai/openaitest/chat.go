package openaitest

import "strings"

// ChatTurn is one message of a ChatML conversation. Open marks a message whose header
// was written but that was not closed by "<|im_end|>" (the assistant start at the end
// of a prompt, or a reply cut short).
type ChatTurn struct {
	Role    string
	Content string
	Open    bool
}

// ParseChat splits a decoded ChatML prompt ("<|im_start|>role\ncontent<|im_end|>\n"
// repeated) into its messages, so that a stub handler can see the conversation. The
// first system message is returned apart; text outside any message is ignored.
func ParseChat(text string) (system string, turns []ChatTurn) {
	const start, end = "<|im_start|>", "<|im_end|>"
	parts := strings.Split(text, start)
	for i, part := range parts {
		if i == 0 {
			continue // text before the first message
		}
		role, rest, _ := strings.Cut(part, "\n")
		content, closed := rest, false
		if j := strings.Index(rest, end); j >= 0 {
			content, closed = rest[:j], true
		}
		if role == "system" && closed && system == "" && len(turns) == 0 {
			system = content
			continue
		}
		turns = append(turns, ChatTurn{Role: role, Content: content, Open: !closed})
	}
	return system, turns
}
