package tiny

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// trainedToy returns a trainer whose model and optimizer state have moved off zero.
func trainedToy(t *testing.T) *Trainer {
	t.Helper()
	m := toyModel(t)
	tr, err := NewTrainer(m, sftConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.SFT(context.Background(), toyTraces(12)); err != nil {
		t.Fatal(err)
	}
	m.SetVersion(3)
	return tr
}

func TestCheckpointRoundTrip(t *testing.T) {
	tr := trainedToy(t)
	path := filepath.Join(t.TempDir(), "ckpt.bin")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	savedSteps := tr.Steps()
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after Save, want only the checkpoint", len(entries))
	}
	got, err := LoadTrainer(path)
	if err != nil {
		t.Fatal(err)
	}
	m, gm := tr.Model(), got.Model()
	if gm.Version() != 3 || got.Steps() != tr.Steps() || got.Config() != tr.Config() || gm.Config() != m.Config() {
		t.Fatalf("restored version %d steps %d config %+v / %+v", gm.Version(), got.Steps(), got.Config(), gm.Config())
	}
	if !slices.Equal(gm.p.data, m.p.data) || !slices.Equal(got.mom, tr.mom) || !slices.Equal(got.vel, tr.vel) {
		t.Fatal("restored parameters or moments differ")
	}
	if !slices.Equal(gm.Tokenizer().Words(), m.Tokenizer().Words()) {
		t.Fatal("restored vocabulary differs")
	}
	// Both continue identically.
	for _, x := range []*Trainer{tr, got} {
		if _, err := x.SFT(context.Background(), toyTraces(12)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(gm.p.data, m.p.data) {
		t.Fatal("the restored trainer's next epoch differs from the original's")
	}
	// LoadModel gives the same parameters; Load restores in place.
	lm, err := LoadModel(path)
	if err != nil || lm.Version() != 3 {
		t.Fatalf("LoadModel: %v, version %d", err, lm.Version())
	}
	if err := tr.Load(path); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lm.p.data, m.p.data) || tr.Steps() != savedSteps {
		t.Fatalf("Load in place: parameters equal %v, steps %d", slices.Equal(lm.p.data, m.p.data), tr.Steps())
	}
}

func TestCheckpointCorruption(t *testing.T) {
	tr := trainedToy(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.bin")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := trainedToy(t)
	other.Model().SetVersion(9)
	before := slices.Clone(other.Model().p.data)
	cases := map[string][]byte{
		"empty":          nil,
		"truncated":      raw[:len(raw)/2],
		"no digest":      raw[:len(raw)-1],
		"flipped weight": flip(raw, len(raw)-100),
		"flipped header": flip(raw, 40),
		"not ours":       []byte("hello, this is not a checkpoint at all, but it is long enough to pass the size check"),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadModel(p); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("%s: LoadModel: %v, want ErrCorruptCheckpoint", name, err)
		}
		if err := other.Load(p); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("%s: Load: %v, want ErrCorruptCheckpoint", name, err)
		}
		if other.Model().Version() != 9 || !slices.Equal(other.Model().p.data, before) {
			t.Fatalf("%s: a failed Load changed the model", name)
		}
	}
	if _, err := LoadModel(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// Another architecture is refused by Load.
	big, err := New(Config{Window: 8, Dim: 32, Heads: 2, Hidden: 32}, NewTokenizer(toyVocab()))
	if err != nil {
		t.Fatal(err)
	}
	bt, _ := NewTrainer(big, sftConfig())
	if err := bt.Load(path); err == nil {
		t.Error("Load of a d=24 checkpoint into a d=32 model succeeded")
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}
