package tiny

import (
	"context"
	"math"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/dapo"
)

func TestPositionsMaskFormatErrors(t *testing.T) {
	tk := NewTokenizer(toyVocab())
	var tr messages.Transcript
	tr = tr.Append(messages.Turn{Assistant: "fix 3", FormatError: "command not extractable", Observation: "ok"})
	tr = tr.Append(messages.Turn{Assistant: toyReply(3), Observation: "ok"})
	rec := messages.EpisodeRecord{Task: messages.TaskRef{Statement: toyStatement(3)}, Transcript: tr}
	for _, mask := range []bool{false, true} {
		seqs, pos, err := tk.positions([]messages.EpisodeRecord{rec}, mask, false)
		if err != nil {
			t.Fatal(err)
		}
		want := 3 + 7 // "fix 3 <eos>" and the 7 ids of the command block reply
		if mask {
			want = 7
		}
		if len(pos) != want || seqs[0].n != want {
			t.Fatalf("mask %v: %d positions, want %d", mask, len(pos), want)
		}
		ctx := seqs[0].ctx
		for _, p := range pos {
			// Every trained target is an assistant id: never <obs>, <cmd> or a statement word.
			if id := ctx[p.i]; id == Obs || id == Cmd || id == tk.must(t, "value") || id == tk.must(t, "ok") {
				t.Fatalf("mask %v: trained on context id %q", mask, tk.Word(id))
			}
		}
		if last := ctx[pos[len(pos)-1].i]; last != EOS {
			t.Fatalf("mask %v: last trained id %q, want <eos>", mask, tk.Word(last))
		}
	}
}

func TestPlanByTrajectories(t *testing.T) {
	m := toyModel(t)
	cfg := DefaultTrainConfig()
	cfg.TrajectoriesPerStep, cfg.PositionsPerStep = 2, 0
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	seqs, pos, err := m.tok.positions(toyTraces(5), false, false)
	if err != nil {
		t.Fatal(err)
	}
	steps := tr.plan(seqs, pos, 0)
	if len(steps) != 3 {
		t.Fatalf("%d steps for 5 trajectories by 2, want 3", len(steps))
	}
	seen := make([]int, len(pos))
	for i, st := range steps {
		owners := map[int32]bool{}
		for _, k := range st {
			seen[k]++
			owners[pos[k].seq] = true
		}
		if want := min(2, 5-2*i); len(owners) != want {
			t.Errorf("step %d covers %d trajectories, want %d", i, len(owners), want)
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("position %d in %d steps", k, n)
		}
	}
}

func TestSeqMeanAggregation(t *testing.T) {
	// On-policy, every ratio is 1 and the surrogate of token i of sequence s is -A_s:
	// seq-mean-token-mean gives -mean_s(A_s) whatever the lengths.
	m := toyModel(t)
	m.p.view(pBout)[EOS] = 3 // replies of different lengths
	p := NewPolicy(m, PolicyConfig{Seed: 4, MaxReplyTokens: 10})
	advs := []float64{2, -1, 0.5}
	var recs []messages.EpisodeRecord
	lengths := map[int]bool{}
	for n, a := range advs {
		r := sampledRecord(t, p, n, a)
		recs = append(recs, r)
		lengths[r.Transcript.Turns()[0].NumTokens()] = true
	}
	if len(lengths) < 2 {
		t.Fatalf("replies all have the same length %v: pick another seed", lengths)
	}
	for agg, want := range map[dapo.Aggregation]float64{
		dapo.SeqMeanTokenMean: -(2 - 1 + 0.5) / 3,
		dapo.TokenMean:        tokenMean(recs),
	} {
		mm := toyModel(t)
		copy(mm.p.data, m.p.data)
		cfg := DefaultTrainConfig()
		cfg.Loss.Agg, cfg.MicroBatch, cfg.PositionsPerStep = agg, 8, 1000
		tr, err := NewTrainer(mm, cfg)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Train(context.Background(), messages.NewTrainBatch(0, 0, recs))
		if err != nil {
			t.Fatal(err)
		}
		if st.Steps != 1 || math.Abs(st.Loss-want) > 1e-5 {
			t.Errorf("%s: loss %v over %d steps, want %v in one", agg, st.Loss, st.Steps, want)
		}
	}
}

func tokenMean(recs []messages.EpisodeRecord) float64 {
	var sum, n float64
	for _, r := range recs {
		k := float64(r.Transcript.Turns()[0].NumTokens())
		sum -= r.Advantage * k
		n += k
	}
	return sum / n
}
