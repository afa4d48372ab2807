package sim

import (
	"strconv"
	"strings"

	"github.com/swerl/swerl/swe"
)

// Words of the world's own texts, named so that producers and Vocab share them.
const (
	wordNewline = "\n"
	wordOK      = "ok"
	wordFail    = "FAIL"
	wordGave    = "gave"
	wordWant    = "want"
	wordError   = "error"
	wordBig     = "big"
	wordNeg     = "neg"
	wordFailed  = "failed"
	wordPassed  = "passed"
	wordTrace   = "trace"

	fenceOpen  = "```command"
	fenceClose = "```"
)

// Commands of the sim sandbox (submit is the engine's: swe.SubmitCommand).
const (
	cmdLs       = "ls"
	cmdRunTests = "run_tests"
	cmdGrep     = "grep"
	cmdShow     = "show"
	cmdFix      = "fix"
)

// Observations of errors and edge cases (a shell's wording, in plain words).
const (
	obsNoMatches    = "no matches"
	obsMoreMatches  = "more matches not shown"
	obsNotFound     = "error : command not found"
	obsNoSuchFile   = "error : no such file"
	obsNoSuchLine   = "error : no such line"
	obsSyntaxError  = "error : syntax error"
	usageLs         = "usage : ls"
	usageRunTests   = "usage : run_tests"
	usageGrep       = "usage : grep TEXT"
	usageShow       = "usage : show FILE LINE"
	usageFix        = "usage : fix FILE LINE TEXT"
	maxFiles        = 10
	maxFunctionName = 99 // function names are f0 … f99
)

// phrases holds the fixed texts the world writes (besides the templates).
var phrases = []string{
	"def return ( ) , : = + - * a b c t u v w",
	wordOK + " " + wordFail + " " + wordGave + " " + wordWant + " " + wordError + " " + wordBig + " " + wordNeg + " " + wordFailed + " " + wordPassed,
	wordTrace,
	cmdLs + " " + cmdRunTests + " " + cmdGrep + " " + cmdShow + " " + cmdFix + " " + swe.SubmitCommand,
	obsNoMatches, obsMoreMatches, obsNotFound, obsNoSuchFile, obsNoSuchLine, obsSyntaxError,
	usageLs, usageRunTests, usageGrep, usageShow, usageFix,
	swe.ErrNoCommand, swe.ErrMultipleCommands,
	fenceOpen + " " + fenceClose,
}

// Vocab returns every word that can appear in a statement, observation, command or
// reply the world produces or accepts from its policies: keywords, punctuation words,
// variables, function names f0 … f99, numbers 0 … 99 (values outside are "big" and
// "neg"), file names, the commands, the fences, the engine's format errors, the
// policies' reasoning words, and "\n" (the first word) for a line break. Text is these
// words separated by single spaces or "\n" (see Words). The order is stable: a
// token-level policy may use the index as the token id. The slice is the caller's.
func Vocab() []string {
	seen := map[string]bool{}
	var out []string
	add := func(text string) {
		for _, w := range Words(text) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	add(wordNewline)
	for _, p := range phrases {
		add(p)
	}
	for _, p := range statementTemplates {
		add(p)
	}
	for _, p := range reasonTemplates {
		add(p)
	}
	for i := 0; i < maxFiles; i++ {
		add(fileName(i))
	}
	for i := 0; i <= maxNumber; i++ {
		add(strconv.Itoa(i))
	}
	for i := 0; i <= maxFunctionName; i++ {
		add(funcName(i))
	}
	// The templates' placeholders are not words.
	kept := out[:0]
	for _, w := range out {
		if _, ok := placeholders[w]; !ok {
			kept = append(kept, w)
		}
	}
	return kept
}

// placeholders of statementTemplates and reasonTemplates.
var placeholders = map[string]struct{}{"F": {}, "G": {}, "X": {}, "Y": {}, "ARGS": {}}

// fill replaces the placeholders of a template, word by word.
func fill(template string, values map[string]string) string {
	w := strings.Fields(template)
	for i, s := range w {
		if v, ok := values[s]; ok {
			w[i] = v
		}
	}
	return strings.Join(w, " ")
}

// Words splits text into words: runs of non-space characters, with each line break
// a word "\n" of its own.
func Words(text string) []string {
	var out []string
	for i, ln := range strings.Split(text, "\n") {
		if i > 0 {
			out = append(out, wordNewline)
		}
		out = append(out, strings.Fields(ln)...)
	}
	return out
}

func fileName(i int) string { return "mod" + strconv.Itoa(i) + ".py" }

func funcName(i int) string { return "f" + strconv.Itoa(i) }
