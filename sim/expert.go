package sim

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

// Reasoning texts of the scripted policies (F, G: function names).
const (
	reasonFirstTests = "let me run the tests first ."
	reasonCheckFix   = "let me run the tests again to check the fix ."
	reasonFind       = "F fails . let me find where F is defined ."
	reasonFindCallee = "F calls G . let me find where G is defined ."
	reasonRead       = "let me read F ."
	reasonFix        = "this change makes every case of F pass ."
	reasonSubmit     = "all tests pass . let me submit ."
	reasonStuck      = "i can not find the bug yet . let me run the tests again ."
	reasonWander     = "let me look at something else ."
	reasonNoBlock    = "i think the bug is somewhere here ."
	reasonTwoBlocks  = "let me do two things at once ."
	reasonRandom     = "let me try this ."
	reasonTrace      = "the trace shows the fix ."
)

var reasonTemplates = []string{reasonFirstTests, reasonCheckFix, reasonFind, reasonFindCallee, reasonRead,
	reasonFix, reasonSubmit, reasonStuck, reasonWander, reasonNoBlock, reasonTwoBlocks, reasonRandom, reasonTrace}

// reply renders a reply: reasoning, then one command block.
func reply(reason, command string) string {
	return reason + "\n" + fenceOpen + "\n" + command + "\n" + fenceClose
}

// Expert solves sim tasks from what the transcript shows, never from the task's
// hidden bug: run_tests; grep the first failing function's def; show it; follow its
// calls the same way; search the one-line edits (the bug kinds' inverses, deepest
// function first) for one that makes every case of the failing function pass; fix;
// run_tests; submit. It is stateless (everything is read from req.Transcript), so it
// also recovers from turns that were not its own (see Noisy). Safe for concurrent use.
type Expert struct{}

// Generate implements policy.Policy.
func (Expert) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	if err := ctx.Err(); err != nil {
		return policy.Reply{}, err
	}
	reason, cmd := expertStep(learn(req.Transcript.Turns()))
	return policy.Reply{Text: reply(reason, cmd)}, nil
}

func expertStep(k *knowledge) (reason, command string) {
	switch {
	case k.report == nil:
		return reasonFirstTests, cmdRunTests
	case k.fixAt > k.reportAt:
		return reasonCheckFix, cmdRunTests
	case len(k.report.failing) == 0:
		return reasonSubmit, swe.SubmitCommand
	}
	if tr := k.report.trace; tr != nil {
		return reasonTrace, cmdFix + " " + tr.file + " " + strconv.Itoa(tr.n) + " " + tr.want
	}
	target := k.report.failing[0]
	cases := k.report.cases[target]
	// Read the target and everything it calls, depth first.
	var (
		order []seenFunc
		seen  = map[string]bool{}
	)
	var visit func(name, caller string) *need
	visit = func(name, caller string) *need {
		if seen[name] {
			return nil
		}
		seen[name] = true
		sf, n := k.readFunc(name, caller)
		if n != nil {
			return n
		}
		order = append(order, sf)
		for _, l := range sf.fn.body {
			if l.fn != "" {
				if n := visit(l.fn, name); n != nil {
					return n
				}
			}
		}
		return nil
	}
	if n := visit(target, ""); n != nil {
		return n.reason, n.command
	}
	if file, at, text, ok := searchFix(order, target, cases); ok {
		return fill(reasonFix, map[string]string{"F": target}),
			cmdFix + " " + file + " " + strconv.Itoa(at) + " " + text
	}
	return reasonStuck, cmdRunTests
}

// searchFix tries every one-line edit of the known functions, the last discovered
// (deepest) first, and returns the first that makes every case of target pass.
func searchFix(fns []seenFunc, target string, cases []Case) (file string, at int, text string, ok bool) {
	prog := program{}
	for _, sf := range fns {
		prog[sf.fn.name] = sf.fn
	}
	passes := func(p program) bool {
		for _, c := range cases {
			if v, err := p.call(target, c.Args); err != nil || v != c.Want {
				return false
			}
		}
		return len(cases) > 0
	}
	for _, sf := range slices.Backward(fns) {
		for j, l := range sf.fn.body {
			for _, e := range edits(l, scopeAt(sf.fn.params, sf.fn.body, j)) {
				f := *sf.fn
				f.body = slices.Clone(f.body)
				f.body[j] = e.l
				p := maps.Clone(prog)
				p[f.name] = &f
				if passes(p) {
					return f.file, sf.lines[j], e.l.String(), true
				}
			}
		}
	}
	return "", 0, "", false
}

// words of the vocabulary a random or noisy policy may put in a command.
func commandWords() []string {
	var out []string
	for _, w := range Vocab() {
		if w != wordNewline && !strings.HasPrefix(w, fenceClose) {
			out = append(out, w)
		}
	}
	return out
}

var _ policy.Policy = Expert{}
