package tiny

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Config is the architecture. The zero value of a field means its default.
type Config struct {
	// Window is how many previous tokens the model sees (left-padded with Pad).
	Window int `json:"window"`
	// Dim is the width of the residual stream; Heads divides it.
	Dim   int `json:"dim"`
	Heads int `json:"heads"`
	// Hidden is the width of the MLP.
	Hidden int `json:"hidden"`
	// Seed draws the initial weights.
	Seed uint64 `json:"seed"`
}

// DefaultConfig is the size used by the embedded world: a 48-token window, d = 48 with
// 4 heads, an MLP of 128.
func DefaultConfig() Config { return Config{Window: 48, Dim: 48, Heads: 4, Hidden: 128, Seed: 1} }

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.Dim == 0 {
		c.Dim = d.Dim
	}
	if c.Heads == 0 {
		c.Heads = d.Heads
	}
	if c.Hidden == 0 {
		c.Hidden = d.Hidden
	}
	return c
}

// Validate reports a configuration New refuses.
func (c Config) Validate() error {
	var errs []error
	if c.Window < 1 || c.Window > 4096 {
		errs = append(errs, fmt.Errorf("window %d outside [1, 4096]", c.Window))
	}
	if c.Dim < 1 || c.Heads < 1 || c.Dim%c.Heads != 0 {
		errs = append(errs, fmt.Errorf("dim %d must be a positive multiple of heads %d", c.Dim, c.Heads))
	}
	if c.Hidden < 1 {
		errs = append(errs, fmt.Errorf("hidden %d must be positive", c.Hidden))
	}
	return errors.Join(errs...)
}

// Model is the network and its parameters: a one-block decoder that predicts the next
// token from the previous Window tokens (see graph.go for the computation).
//
// Its parameters are shared by the Policy that serves them and the Trainer that updates
// them, under a RWMutex: generation steps read-lock them, a training update or a
// checkpoint load write-locks them. All methods are safe for concurrent use.
type Model struct {
	cfg Config
	tok *Tokenizer

	mu      sync.RWMutex
	p       *params
	version int

	fwdMu sync.Mutex
	fwd   map[int]*graph // Forward's graphs by batch size
}

// New builds a model over tok with freshly initialised weights at version 0.
func New(cfg Config, tok *Tokenizer) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tiny: %w", err)
	}
	if tok == nil {
		return nil, errors.New("tiny: nil tokenizer")
	}
	p := newParams(cfg, tok.Size())
	p.init(cfg.Seed)
	return &Model{cfg: cfg, tok: tok, p: p}, nil
}

// Config returns the architecture (defaults filled in).
func (m *Model) Config() Config { return m.cfg }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// NumParams is the number of scalar parameters.
func (m *Model) NumParams() int { return len(m.p.data) }

// Version is the number of committed training updates (Trainer.Train) of the
// parameters the model holds, or the version restored from a checkpoint.
func (m *Model) Version() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

// SetVersion sets the version, for engines that number policy versions from another
// origin (for instance after pretraining in another process).
func (m *Model) SetVersion(v int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version = v
}

// Window fills dst (length Window) with the ids the model sees when it predicts
// ctx[i]: ctx[i-Window:i], left-padded with Pad.
func (m *Model) Window(dst, ctx []int32, i int) {
	fillWindow(dst, ctx, i)
}

func fillWindow(dst, ctx []int32, i int) {
	w := len(dst)
	start := i - w
	for j := range dst {
		k := start + j
		if k < 0 {
			dst[j] = Pad
		} else {
			dst[j] = ctx[k]
		}
	}
}

// Forward runs the model on len(targets) windows at once: windows holds them back to
// back (len(targets) * Window ids, each row left-padded with Pad and ending with a
// real token). It returns the log-prob of each target and the log-probs of the whole
// vocabulary per row ([B][V] flattened), both newly allocated. targets may be nil
// (logp is then nil); B is then len(windows)/Window.
func (m *Model) Forward(windows, targets []int32) (logp []float32, dist []float32, err error) {
	w := m.cfg.Window
	if len(windows) == 0 || len(windows)%w != 0 {
		return nil, nil, fmt.Errorf("tiny: %d window ids is not a positive multiple of the window %d", len(windows), w)
	}
	b := len(windows) / w
	if targets != nil && len(targets) != b {
		return nil, nil, fmt.Errorf("tiny: %d targets for %d windows", len(targets), b)
	}
	if err := m.checkIDs(windows); err != nil {
		return nil, nil, err
	}
	if err := m.checkIDs(targets); err != nil {
		return nil, nil, err
	}
	m.fwdMu.Lock()
	defer m.fwdMu.Unlock()
	if m.fwd == nil {
		m.fwd = map[int]*graph{}
	}
	g := m.fwd[b]
	if g == nil {
		if g, err = newGraph(m, b, modeInfer); err != nil {
			return nil, nil, err
		}
		m.fwd[b] = g
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.tok.Size()
	dist = make([]float32, b*v)
	if err := g.infer(windows, dist); err != nil {
		return nil, nil, err
	}
	if targets != nil {
		logp = make([]float32, b)
		for r, t := range targets {
			logp[r] = dist[r*v+int(t)]
		}
	}
	return logp, dist, nil
}

func (m *Model) checkIDs(ids []int32) error {
	v := int32(m.tok.Size())
	for _, id := range ids {
		if id < 0 || id >= v {
			return fmt.Errorf("tiny: token id %d outside the vocabulary [0, %d)", id, v)
		}
	}
	return nil
}

// entropy of a row of log-probs, in nats.
func entropy(lp []float32) float64 {
	var h float64
	for _, l := range lp {
		if l > -80 {
			h -= math.Exp(float64(l)) * float64(l)
		}
	}
	return h
}
