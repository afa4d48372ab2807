package tiny

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/swerl/swerl/internal/atomicfile"
)

// Checkpoint file layout (little endian):
//
//	magic "swerl-tiny-ckpt\n" | uint32 format | uint64 header length | header (JSON)
//	| parameters | first moments | second moments (float32 each, as many as the header says)
//	| SHA-256 of everything before it
//
// The digest is checked before anything is decoded, so a truncated or corrupt file is
// refused as a whole and nothing is half-loaded.
const (
	ckptMagic  = "swerl-tiny-ckpt\n"
	ckptFormat = 2 // 2: the S (smeared key) embeddings
)

// ErrCorruptCheckpoint is wrapped by every error about a file that is not a whole,
// intact checkpoint.
var ErrCorruptCheckpoint = errors.New("corrupt or truncated checkpoint")

type ckptHeader struct {
	Model   Config      `json:"model"`
	Vocab   []string    `json:"vocab"` // the tokenizer's words, specials excluded
	Version int         `json:"version"`
	Step    int64       `json:"step"`
	Train   TrainConfig `json:"train"`
	Params  int         `json:"params"`
}

// Save writes the model's parameters, version and configuration, the tokenizer's
// vocabulary, and the optimizer state and training configuration to path, atomically:
// a temporary file in the same directory is written, synced and renamed over path.
func (t *Trainer) Save(path string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.mu.RLock()
	h := ckptHeader{Model: t.m.cfg, Vocab: t.m.tok.Words(), Version: t.m.version, Step: t.step,
		Train: t.cfg, Params: len(t.m.p.data)}
	data, err := encodeCheckpoint(h, t.m.p.data, t.mom, t.vel)
	t.m.mu.RUnlock()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func encodeCheckpoint(h ckptHeader, vecs ...[]float32) ([]byte, error) {
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("tiny: checkpoint header: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(ckptMagic) + 12 + len(hdr) + 4*len(vecs)*h.Params + sha256.Size)
	b.WriteString(ckptMagic)
	binary.Write(&b, binary.LittleEndian, uint32(ckptFormat))
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.Write(hdr)
	var buf [4]byte
	for _, v := range vecs {
		for _, x := range v {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(x))
			b.Write(buf[:])
		}
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("tiny: save checkpoint: %w", err)
	}
	return nil
}

// checkpoint is a decoded, verified file.
type checkpoint struct {
	h              ckptHeader
	data, mom, vel []float32
}

func readCheckpoint(path string) (*checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tiny: load checkpoint: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("tiny: load checkpoint %s: %w: %s", path, ErrCorruptCheckpoint, fmt.Sprintf(format, args...))
	}
	if len(raw) < len(ckptMagic)+12+sha256.Size || string(raw[:len(ckptMagic)]) != ckptMagic {
		return nil, corrupt("not a tiny-policy checkpoint (%d bytes)", len(raw))
	}
	body, digest := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], digest) {
		return nil, corrupt("SHA-256 mismatch (truncated or damaged file)")
	}
	rest := body[len(ckptMagic):]
	if f := binary.LittleEndian.Uint32(rest); f != ckptFormat {
		return nil, fmt.Errorf("tiny: load checkpoint %s: format %d, this build reads %d", path, f, ckptFormat)
	}
	n := binary.LittleEndian.Uint64(rest[4:])
	rest = rest[12:]
	if n > uint64(len(rest)) {
		return nil, corrupt("header length %d beyond the file", n)
	}
	c := &checkpoint{}
	if err := json.Unmarshal(rest[:n], &c.h); err != nil {
		return nil, corrupt("header: %v", err)
	}
	rest = rest[n:]
	p := c.h.Params
	if p <= 0 || len(rest) != 3*4*p {
		return nil, corrupt("%d bytes of weights for %d parameters", len(rest), p)
	}
	vec := func() []float32 {
		v := make([]float32, p)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
		}
		rest = rest[4*p:]
		return v
	}
	c.data, c.mom, c.vel = vec(), vec(), vec()
	return c, nil
}

// model builds the checkpoint's model (its tokenizer, parameters and version).
func (c *checkpoint) model() (*Model, error) {
	m, err := New(c.h.Model, NewTokenizer(c.h.Vocab))
	if err != nil {
		return nil, fmt.Errorf("tiny: checkpoint: %w", err)
	}
	if len(m.p.data) != len(c.data) {
		return nil, fmt.Errorf("tiny: checkpoint: %d parameters, its configuration needs %d", len(c.data), len(m.p.data))
	}
	copy(m.p.data, c.data)
	if err := m.p.check(); err != nil {
		return nil, fmt.Errorf("tiny: checkpoint: %w", err)
	}
	m.version = c.h.Version
	return m, nil
}

// LoadModel reads a checkpoint written by Trainer.Save and returns its model, for
// serving only (the optimizer state is ignored).
func LoadModel(path string) (*Model, error) {
	c, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return c.model()
}

// LoadTrainer reads a checkpoint written by Trainer.Save and returns a trainer (and,
// through Trainer.Model, its model) in the state saved: parameters, version, optimizer
// moments, step count and training configuration.
func LoadTrainer(path string) (*Trainer, error) {
	c, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	m, err := c.model()
	if err != nil {
		return nil, err
	}
	t, err := NewTrainer(m, c.h.Train)
	if err != nil {
		return nil, fmt.Errorf("tiny: checkpoint: %w", err)
	}
	copy(t.mom, c.mom)
	copy(t.vel, c.vel)
	t.step = c.h.Step
	return t, nil
}

// Load restores a checkpoint into t and its model in place (a Policy serving the model
// serves the restored parameters): parameters, version, optimizer state, step count and
// training configuration. The checkpoint must be of the same architecture and
// vocabulary. On any error nothing changes.
func (t *Trainer) Load(path string) error {
	c, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	if arch, mine := c.h.Model, t.m.cfg; arch.Window != mine.Window || arch.Dim != mine.Dim || arch.Heads != mine.Heads || arch.Hidden != mine.Hidden {
		return fmt.Errorf("tiny: checkpoint %s is for model %+v, this one is %+v", path, c.h.Model, t.m.cfg)
	}
	if !slices.Equal(c.h.Vocab, t.m.tok.Words()) {
		return fmt.Errorf("tiny: checkpoint %s has another vocabulary (%d words, this model has %d)", path, len(c.h.Vocab), len(t.m.tok.Words()))
	}
	if len(c.data) != len(t.m.p.data) {
		return fmt.Errorf("tiny: checkpoint %s holds %d parameters, the model has %d", path, len(c.data), len(t.m.p.data))
	}
	if err := c.h.Train.Validate(); err != nil {
		return fmt.Errorf("tiny: checkpoint %s: train config: %w", path, err)
	}
	if err := (&params{specs: t.m.p.specs, data: c.data}).check(); err != nil {
		return fmt.Errorf("tiny: checkpoint %s: %w", path, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	copy(t.m.p.data, c.data)
	copy(t.mom, c.mom)
	copy(t.vel, c.vel)
	t.m.version, t.step = c.h.Version, c.h.Step
	if c.h.Train.MicroBatch != t.cfg.MicroBatch {
		t.lanes = map[graphMode][]*trainLane{}
	}
	t.cfg = c.h.Train
	return nil
}
