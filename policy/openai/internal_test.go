package openai

import (
	"context"
	"testing"
	"time"
)

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:8000":             "http://h:8000",
		"http://h:8000/":            "http://h:8000",
		"http://h:8000/v1":          "http://h:8000",
		"http://h:8000/v1/":         "http://h:8000",
		"https://h/proxy/vllm/v1":   "https://h/proxy/vllm",
		"https://h/proxy/vllm/v1//": "https://h/proxy/vllm",
	} {
		if got, err := baseURL(in); err != nil || got != want {
			t.Errorf("baseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "h:8000", "ftp://h", "http://", "http://h/v1?x=1", "://x"} {
		if _, err := baseURL(bad); err == nil {
			t.Errorf("baseURL(%q): no error", bad)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"1":                             time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"Sun, 01 Jun 2025 12:00:30 GMT": 30 * time.Second,
		"Sun, 01 Jun 2025 11:00:00 GMT": 0, // in the past: retry now
	} {
		if got, ok := parseRetryAfter(h, now); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "-1", "soon", "1.5"} {
		if d, ok := parseRetryAfter(h, now); ok {
			t.Errorf("parseRetryAfter(%q) = %v, want not ok", h, d)
		}
	}
}

// The default sleep ends when ctx does.
func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("sleep on a cancelled context = %v", err)
	}
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("sleep(1ms) = %v", err)
	}
}

func TestExcerpt(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'x'
	}
	if got := excerpt([]byte("a\n  b\tc")); got != "a b c" {
		t.Errorf("excerpt = %q", got)
	}
	if got := excerpt(append([]byte("é"), long...)); len(got) > 310 {
		t.Errorf("excerpt of 1000 bytes is %d bytes", len(got))
	}
}
