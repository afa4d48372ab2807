package swe

import "strings"

// Format errors of the scaffold (PAPER.md): the reply must hold exactly one fenced
// block opened with three backticks and the word "command".
const (
	ErrNoCommand        = "command not extractable"
	ErrMultipleCommands = "multiple commands"
)

// SubmitCommand ends the episode; the patch is the working tree's diff.
const SubmitCommand = "submit"

const fence = "```"

// ParseCommand extracts the single command block of an assistant reply. It returns
// the command (trimmed) and "" on success, or "" and one of the format-error strings.
// An unterminated block counts as no block.
func ParseCommand(reply string) (command, formatErr string) {
	found := 0
	rest := reply
	for {
		i := strings.Index(rest, fence+"command")
		if i < 0 {
			break
		}
		body := rest[i+len(fence)+len("command"):]
		nl := strings.IndexByte(body, '\n')
		if nl < 0 || strings.TrimSpace(body[:nl]) != "" {
			// "```commandfoo" or no newline: not an opening line.
			rest = body
			continue
		}
		body = body[nl+1:]
		end := closingFence(body)
		if end < 0 {
			break
		}
		found++
		if found > 1 {
			return "", ErrMultipleCommands
		}
		command = strings.TrimSpace(body[:end])
		rest = body[end+len(fence):]
	}
	if found == 0 || command == "" {
		return "", ErrNoCommand
	}
	return command, ""
}

// closingFence finds a line that starts with ``` in s and returns its offset, or -1.
func closingFence(s string) int {
	off := 0
	for {
		if strings.HasPrefix(s[off:], fence) {
			return off
		}
		nl := strings.IndexByte(s[off:], '\n')
		if nl < 0 {
			return -1
		}
		off += nl + 1
	}
}
