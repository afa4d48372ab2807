package sandbox

import (
	"bytes"
	"strings"
	"testing"
)

func TestCaptureKeepsHeadAndTail(t *testing.T) {
	for _, chunk := range []int{1, 7, 64, 1 << 20} {
		c := NewCapture(100)
		var all bytes.Buffer
		for i := 0; all.Len() < 10_000; i++ {
			b := bytes.Repeat([]byte{byte('a' + i%26)}, chunk)
			all.Write(b)
			c.Write(b)
		}
		want := all.Bytes()
		got := c.String()
		if !strings.HasPrefix(got, string(want[:50])) || !strings.HasSuffix(got, string(want[len(want)-50:])) {
			t.Fatalf("chunk %d: head or tail lost: %q", chunk, got)
		}
		if d := c.Dropped(); d != int64(len(want)-100) {
			t.Fatalf("chunk %d: dropped %d, want %d", chunk, d, len(want)-100)
		}
		if !strings.Contains(got, "bytes of output dropped") {
			t.Fatalf("no notice: %q", got)
		}
	}
	c := NewCapture(100)
	c.Write([]byte("short"))
	if c.String() != "short" || c.Dropped() != 0 {
		t.Fatalf("short output changed: %q", c.String())
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("it's"); got != `'it'\''s'` {
		t.Fatalf("Quote = %s", got)
	}
}
