package swe

import "testing"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name, reply, cmd, err string
	}{
		{"one block", "I will look.\n```command\nls -la\n```\n", "ls -la", ""},
		{"multi-line", "```command\nedit 3:4\nfoo\nbar\n```", "edit 3:4\nfoo\nbar", ""},
		{"submit", "done\n```command\nsubmit\n```", "submit", ""},
		{"none", "I think the bug is in foo.py", "", ErrNoCommand},
		{"other fence", "```python\nprint(1)\n```", "", ErrNoCommand},
		{"unterminated", "```command\nls", "", ErrNoCommand},
		{"empty block", "```command\n\n```", "", ErrNoCommand},
		{"two blocks", "```command\nls\n```\nand\n```command\npwd\n```", "", ErrMultipleCommands},
		{"not an opening line", "```commandx\nls\n```", "", ErrNoCommand},
		{"nested backticks", "```command\necho '```'x\n```", "echo '```'x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := ParseCommand(tt.reply)
			if cmd != tt.cmd || err != tt.err {
				t.Errorf("ParseCommand(%q) = %q, %q; want %q, %q", tt.reply, cmd, err, tt.cmd, tt.err)
			}
		})
	}
}

func TestTurnPenalty(t *testing.T) {
	tests := []struct {
		turns, thr, max int
		want            float64
	}{
		{1, 10, 40, 0},
		{9, 10, 40, 0},
		{10, 10, 40, 0},
		{25, 10, 40, -0.5},
		{40, 10, 40, -1},
		{80, 10, 80, -1},
		{45, 10, 80, -0.5},
		{5, 10, 10, 0},
	}
	for _, tt := range tests {
		if got := TurnPenalty(tt.turns, tt.thr, tt.max); got != tt.want {
			t.Errorf("TurnPenalty(%d, %d, %d) = %v, want %v", tt.turns, tt.thr, tt.max, got, tt.want)
		}
	}
}
