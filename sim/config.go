package sim

import (
	"errors"
	"fmt"
)

// BugKind is a kind of injected bug. Each is one small edit of one line, and the
// Expert searches the same edits to undo it.
type BugKind string

const (
	OpSwap        BugKind = "op_swap"        // + - * replaced by another of them
	OffByOne      BugKind = "off_by_one"     // a constant one too high or too low
	SwapOperands  BugKind = "swap_operands"  // a - b written b - a, or call arguments swapped
	WrongVariable BugKind = "wrong_variable" // another variable in scope used
)

// AllBugKinds returns every bug kind.
func AllBugKinds() []BugKind { return []BugKind{OpSwap, OffByOne, SwapOperands, WrongVariable} }

// Config holds the difficulty knobs of a generated world.
type Config struct {
	Files            int       // modules mod0.py …, 1 to 10
	FunctionsPerFile int       // Files*FunctionsPerFile functions in all, at most 99
	BodyLines        int       // each function has 1 to BodyLines body lines (at most 4)
	BugKinds         []BugKind // the kinds the bug is drawn from
	// Distractors is how many functions are near copies (one edit away) of the buggy
	// function's correct body, under other names, with their own passing tests.
	Distractors int
	// CallDepth puts the bug in an untested helper reached from the function
	// through CallDepth calls (0: the bug is in the function itself).
	CallDepth int
	Cases     int // test cases per tested function, 1 to 8
	// ShowWindow is how many lines show prints (at least 5: a whole function).
	ShowWindow int
	// Trace makes run_tests end a failing report, after its summary line, with a
	// traceback that points at the first line differing from the correct repository
	// and says what it should be: "trace mod1.py 14 return t + 6" then
	// "want mod1.py 14 return u + 6". The fix is then read, not searched for: a
	// world a small model can learn.
	Trace bool
	Seed  uint64
}

// Easy is one bug kind in small repositories: a few turns, short contexts.
func Easy() Config {
	return Config{Files: 2, FunctionsPerFile: 3, BodyLines: 2, BugKinds: []BugKind{OpSwap},
		Cases: 3, ShowWindow: 6, Seed: 1}
}

// Default has every bug kind, distractors and one helper between the issue and the
// bug.
func Default() Config {
	return Config{Files: 4, FunctionsPerFile: 5, BodyLines: 3, BugKinds: AllBugKinds(),
		Distractors: 2, CallDepth: 1, Cases: 3, ShowWindow: 10, Seed: 1}
}

// Guided is Default with Trace: every bug kind, distractors and a helper, but the
// failing report points at the bug. The embedded recipe (swerl train) trains on it.
func Guided() Config {
	c := Default()
	c.Trace = true
	return c
}

// Hard has large repositories, three helpers between the issue and the bug and wide
// windows: expert episodes run to thousands of words of context.
func Hard() Config {
	return Config{Files: 8, FunctionsPerFile: 12, BodyLines: 4, BugKinds: AllBugKinds(),
		Distractors: 6, CallDepth: 3, Cases: 4, ShowWindow: 40, Seed: 1}
}

// Validate reports the first knob out of range.
func (c Config) Validate() error {
	total := c.Files * c.FunctionsPerFile
	switch {
	case c.Files < 1 || c.Files > maxFiles:
		return fmt.Errorf("sim: Files %d: want 1 to %d", c.Files, maxFiles)
	case c.FunctionsPerFile < 1 || total > maxFunctionName:
		return fmt.Errorf("sim: %d functions in all: want 1 to %d", total, maxFunctionName)
	case c.BodyLines < 1 || c.BodyLines > len(localNames):
		return fmt.Errorf("sim: BodyLines %d: want 1 to %d", c.BodyLines, len(localNames))
	case c.FunctionsPerFile*(c.BodyLines+1) > maxNumber:
		return fmt.Errorf("sim: files of up to %d lines: want at most %d", c.FunctionsPerFile*(c.BodyLines+1), maxNumber)
	case c.CallDepth < 0 || c.Distractors < 0 || 1+c.CallDepth+c.Distractors > total:
		return fmt.Errorf("sim: CallDepth %d and Distractors %d need more than %d functions", c.CallDepth, c.Distractors, total)
	case c.Cases < 1 || c.Cases > 8:
		return fmt.Errorf("sim: Cases %d: want 1 to 8", c.Cases)
	case c.ShowWindow < len(localNames)+1 || c.ShowWindow > maxNumber:
		return fmt.Errorf("sim: ShowWindow %d: want %d to %d", c.ShowWindow, len(localNames)+1, maxNumber)
	case len(c.BugKinds) == 0:
		return errors.New("sim: no BugKinds")
	}
	for _, k := range c.BugKinds {
		switch k {
		case OpSwap, OffByOne, SwapOperands, WrongVariable:
		default:
			return fmt.Errorf("sim: unknown bug kind %q", k)
		}
	}
	return nil
}
