package tiny

import (
	"testing"

	"github.com/swerl/swerl/swe"
)

var testWords = []string{"fix", "mod2.py", "15", "return", "a", "+", "b", "open", "line", "the", "bug", "is", "in", "submit", "```command", "fix", ""}

func TestTokenizerSpecialsFirst(t *testing.T) {
	tk := NewTokenizer(testWords)
	for id, w := range specialText {
		if got, ok := tk.ID(w); !ok || got != int32(id) {
			t.Errorf("special %q: id %d (%v), want %d", w, got, ok, id)
		}
	}
	// "```command" and the second "fix" and "" are repeats or empty: skipped.
	if got, want := tk.Size(), int(numSpecial)+14; got != want {
		t.Fatalf("Size = %d, want %d", got, want)
	}
	again := NewTokenizer(tk.Words())
	for id := int32(0); id < int32(tk.Size()); id++ {
		if again.Word(id) != tk.Word(id) {
			t.Fatalf("id %d: %q after a round trip through Words, want %q", id, again.Word(id), tk.Word(id))
		}
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	tk := NewTokenizer(testWords)
	for _, text := range []string{
		"",
		"fix",
		"the bug is in mod2.py",
		"```command\nfix mod2.py 15 return a + b\n```",
		"open mod2.py\n\nline 15\n",
		"\n\nsubmit",
	} {
		ids := tk.Encode(nil, text)
		for _, id := range ids {
			if id == Unk {
				t.Fatalf("%q: unexpected <unk> in %v", text, ids)
			}
		}
		if got := tk.Decode(ids); got != text {
			t.Errorf("Decode(Encode(%q)) = %q (ids %v)", text, got, ids)
		}
	}
}

func TestTokenizerNormalizesAndUnknown(t *testing.T) {
	tk := NewTokenizer(testWords)
	text := "  fix   mod2.py\t15 \n zebra a  "
	ids := tk.Encode(nil, text)
	want := []int32{tk.must(t, "fix"), tk.must(t, "mod2.py"), tk.must(t, "15"), Newline, Unk, tk.must(t, "a")}
	if !equalIDs(ids, want) {
		t.Fatalf("Encode(%q) = %v, want %v", text, ids, want)
	}
	if got, want := tk.Decode(ids), "fix mod2.py 15\n<unk> a"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
	if got, want := Normalize(text), "fix mod2.py 15\nzebra a"; got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
	if got := tk.Word(-1); got != "<unk>" {
		t.Errorf("Word(-1) = %q", got)
	}
	if got := tk.Decode([]int32{Pad, tk.must(t, "fix"), EOS, Cmd}); got != "fix <cmd>" {
		t.Errorf("Decode with specials = %q", got)
	}
}

func TestDecodedReplyParses(t *testing.T) {
	tk := NewTokenizer(testWords)
	reply := []int32{FenceOp, Newline, tk.must(t, "fix"), tk.must(t, "mod2.py"), tk.must(t, "15"),
		tk.must(t, "return"), tk.must(t, "a"), tk.must(t, "+"), tk.must(t, "b"), Newline, FenceCl, EOS, tk.must(t, "bug")}
	text := tk.DecodeReply(reply)
	cmd, ferr := swe.ParseCommand(text)
	if ferr != "" || cmd != "fix mod2.py 15 return a + b" {
		t.Fatalf("ParseCommand(%q) = %q, %q", text, cmd, ferr)
	}
	// A misplaced fence is a real format error.
	bad := []int32{FenceOp, tk.must(t, "fix"), Newline, FenceCl, EOS}
	if _, ferr := swe.ParseCommand(tk.DecodeReply(bad)); ferr != swe.ErrNoCommand {
		t.Fatalf("misplaced fence: format error %q, want %q", ferr, swe.ErrNoCommand)
	}
}

func (tk *Tokenizer) must(t testing.TB, w string) int32 {
	t.Helper()
	id, ok := tk.ID(w)
	if !ok {
		t.Fatalf("word %q not in vocabulary", w)
	}
	return id
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
