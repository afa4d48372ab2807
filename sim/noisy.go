package sim

import (
	"context"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

// episodeRand returns the random source of one turn: a function of seed, the
// episode's identity, the attempt and the turn only, so replies are reproducible
// whatever the scheduling.
func episodeRand(seed uint64, req policy.Request) *rand.Rand {
	h := fnv.New64a()
	r := req.Ref
	for _, s := range []string{strconv.FormatUint(seed, 10), r.TaskID, strconv.Itoa(r.Iteration), strconv.Itoa(r.PolicyVersion),
		strconv.Itoa(r.Group), strconv.Itoa(r.Sample), strconv.Itoa(req.Attempt), strconv.Itoa(req.Turn)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewPCG(h.Sum64(), seed^0x9e3779b97f4a7c15))
}

// Noisy is the Expert with mistakes: each turn, with probability P, it makes a random
// plausible move instead (a format error, ls, run_tests, a grep or show somewhere
// else, a wrong one-edit fix of a line it has seen, or an early submit). Its choices
// are a function of Seed, the episode (req.Ref, req.Attempt) and req.Turn. Safe for
// concurrent use.
type Noisy struct {
	P    float64
	Seed uint64
}

// Generate implements policy.Policy.
func (n Noisy) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	if err := ctx.Err(); err != nil {
		return policy.Reply{}, err
	}
	rng := episodeRand(n.Seed, req)
	if rng.Float64() >= n.P {
		return Expert{}.Generate(ctx, req)
	}
	return policy.Reply{Text: blunder(rng, learn(req.Transcript.Turns()))}, nil
}

// blunder returns a plausible wrong reply.
func blunder(rng *rand.Rand, k *knowledge) string {
	files := slices.Sorted(maps.Keys(k.code))
	if len(files) == 0 {
		files = k.files
	}
	if len(files) == 0 {
		files = []string{fileName(0)}
	}
	switch rng.IntN(8) {
	case 0:
		return reasonNoBlock
	case 1:
		return reasonTwoBlocks + "\n" + fenceOpen + "\n" + cmdLs + "\n" + fenceClose + "\n" + fenceOpen + "\n" + cmdRunTests + "\n" + fenceClose
	case 2:
		return reply(reasonWander, cmdLs)
	case 3:
		return reply(reasonWander, cmdRunTests)
	case 4:
		return reply(reasonWander, cmdGrep+" def "+funcName(rng.IntN(maxFunctionName+1))+" (")
	case 5:
		return reply(reasonWander, cmdShow+" "+files[rng.IntN(len(files))]+" "+strconv.Itoa(1+rng.IntN(30)))
	case 6:
		if fix, ok := wrongFix(rng, k); ok {
			return reply(reasonWander, fix)
		}
		return reply(reasonWander, cmdLs)
	}
	return reply(reasonWander, swe.SubmitCommand)
}

// wrongFix edits a random seen body line by a random one-line edit.
func wrongFix(rng *rand.Rand, k *knowledge) (string, bool) {
	type at struct {
		file string
		n    int
		l    line
	}
	var cands []at
	for _, file := range slices.Sorted(maps.Keys(k.code)) {
		for _, n := range slices.Sorted(maps.Keys(k.code[file])) {
			if l, err := parseLine(k.code[file][n]); err == nil && l.kind != lineDef {
				cands = append(cands, at{file, n, l})
			}
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	c := cands[rng.IntN(len(cands))]
	// The scope is unknown here: any parameter or the local the line could follow.
	es := edits(c.l, []string{"a", "b", "t"})
	if len(es) == 0 {
		return "", false
	}
	return cmdFix + " " + c.file + " " + strconv.Itoa(c.n) + " " + es[rng.IntN(len(es))].l.String(), true
}

// Random writes uniformly random commands of the sim grammar (ls, run_tests, grep,
// show, fix, submit) with random arguments: words of the vocabulary, file names and
// numbers. It never makes a format error. Its choices are a function of Seed, the
// episode and the turn. Safe for concurrent use.
type Random struct {
	Seed uint64
}

var randomWords = commandWords()

// Generate implements policy.Policy.
func (r Random) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	if err := ctx.Err(); err != nil {
		return policy.Reply{}, err
	}
	rng := episodeRand(r.Seed, req)
	word := func() string { return randomWords[rng.IntN(len(randomWords))] }
	file := func() string { return fileName(rng.IntN(maxFiles)) }
	num := func() string { return strconv.Itoa(rng.IntN(maxNumber + 1)) }
	var cmd string
	switch rng.IntN(6) {
	case 0:
		cmd = cmdLs
	case 1:
		cmd = cmdRunTests
	case 2:
		cmd = cmdGrep + " " + word()
	case 3:
		cmd = cmdShow + " " + file() + " " + num()
	case 4:
		w := make([]string, 1+rng.IntN(6))
		for i := range w {
			w[i] = word()
		}
		cmd = cmdFix + " " + file() + " " + num() + " " + strings.Join(w, " ")
	default:
		cmd = swe.SubmitCommand
	}
	return policy.Reply{Text: reply(reasonRandom, cmd)}, nil
}

var (
	_ policy.Policy = Noisy{}
	_ policy.Policy = Random{}
)
