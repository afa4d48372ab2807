package sandbox

import (
	"fmt"
	"sync"
)

// Capture is an io.Writer that keeps at most Limit bytes of what is written to it:
// the first half and the last half, with the count of bytes dropped in between. It
// never holds more than Limit bytes, whatever is written, so a command printing
// gigabytes costs nothing but time. Safe for concurrent writes (stdout and stderr).
type Capture struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte // ring buffer of the last limit-len(head) bytes
	start   int    // index of the oldest byte in tail once full
	dropped int64
}

// NewCapture returns a Capture keeping at most limit bytes (at least 2).
func NewCapture(limit int) *Capture {
	if limit < 2 {
		limit = 2
	}
	return &Capture{limit: limit}
}

func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	headCap := c.limit / 2
	if room := headCap - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	tailCap := c.limit - headCap
	for len(p) > 0 {
		if len(c.tail) < tailCap {
			k := min(tailCap-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		// Full: overwrite the oldest bytes.
		k := min(tailCap-c.start, len(p))
		copy(c.tail[c.start:], p[:k])
		c.dropped += int64(k)
		c.start = (c.start + k) % tailCap
		p = p[k:]
	}
	return n, nil
}

// Dropped is the number of bytes not kept.
func (c *Capture) Dropped() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// String returns what was kept, with a visible notice where bytes were dropped.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := append(append([]byte(nil), c.tail[c.start:]...), c.tail[:c.start]...)
	if c.dropped == 0 {
		return string(c.head) + string(tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes of output dropped ...]\n%s", c.head, c.dropped, tail)
}
