package records

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

func newWriter(t *testing.T, dir string, opts WriterOptions) *Writer {
	t.Helper()
	w, err := NewWriter(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ParquetDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Records are in the JSONL file once Flush returns, without Close: a crash after that
// loses none of them.
func TestWriterFlushWithoutClose(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, WriterOptions{})
	defer w.Close()
	want := append(sampleRecords(), numbered(5)...)
	for _, r := range want {
		w.Write(r)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(filepath.Join(dir, JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
	if w.Count() != len(want) {
		t.Errorf("Count = %d, want %d", w.Count(), len(want))
	}
	// Flush also wrote the pending records as a Parquet part.
	pq, err := ReadParquet(filepath.Join(dir, ParquetDir))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, pq, want)
}

// Full parts are written every PartRecords records, the rest at Close; reading the
// directory gives every record in order.
func TestWriterParts(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, WriterOptions{PartRecords: 3})
	want := numbered(7)
	for _, r := range want {
		w.Write(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := partFiles(t, dir); strings.Join(got, " ") != "part-00000.parquet part-00001.parquet part-00002.parquet" {
		t.Errorf("parts = %v", got)
	}
	for i, n := range []int{3, 3, 1} {
		recs, err := ReadParquet(filepath.Join(dir, ParquetDir, partName(i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n {
			t.Errorf("part %d has %d records, want %d", i, len(recs), n)
		}
	}
	got, err := ReadParquet(filepath.Join(dir, ParquetDir))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A resumed run appends to records.jsonl (after cutting off the torn line a crash
// left), continues the part numbers and removes unfinished temporary parts.
func TestWriterResume(t *testing.T) {
	dir := t.TempDir()
	first, second := numbered(4), sampleRecords()
	w := newWriter(t, dir, WriterOptions{})
	for _, r := range first {
		w.Write(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The crash: half a line, and half a part.
	appendFile(t, filepath.Join(dir, JSONLName), `{"task_id":"torn","tur`)
	writeFile(t, filepath.Join(dir, ParquetDir, ".part-00001.parquet.tmp-123"), "PAR1 half")
	if _, err := ReadJSONL(filepath.Join(dir, JSONLName)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("before resume: err = %v, want ErrTruncated", err)
	}

	var logs []string
	w = newWriter(t, dir, WriterOptions{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	for _, r := range second {
		w.Write(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all := append(append([]Record(nil), first...), second...)
	got, err := ReadJSONL(filepath.Join(dir, JSONLName))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, all)
	if got := partFiles(t, dir); strings.Join(got, " ") != "part-00000.parquet part-00001.parquet" {
		t.Errorf("parts = %v", got)
	}
	pq, err := ReadParquet(filepath.Join(dir, ParquetDir))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, pq, all)
	if len(logs) != 2 {
		t.Errorf("Logf got %q, want the torn line and the temporary part reported", logs)
	}
}

// A last line that is a whole record without its newline is kept and terminated.
func TestWriterResumeWholeLastLine(t *testing.T) {
	dir := t.TempDir()
	want := numbered(2)
	if err := os.WriteFile(filepath.Join(dir, JSONLName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := appendRecords(filepath.Join(dir, JSONLName), want[:1]); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, JSONLName)
	b, _ := os.ReadFile(path)
	writeFile(t, path, strings.TrimSuffix(string(b), "\n"))
	w := newWriter(t, dir, WriterOptions{})
	w.Write(want[1])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
}

func TestWriterConcurrent(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, WriterOptions{PartRecords: 16})
	const writers, each = 16, 40
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				r := FromEpisode(resolvedEpisode(), true)
				r.Group, r.Sample = g, i
				w.Write(r)
				if i%20 == 0 {
					if err := w.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(name string, recs []Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[[2]int]bool{}
		for _, r := range recs {
			k := [2]int{r.Group, r.Sample}
			if seen[k] {
				t.Errorf("%s: g%d/s%d twice", name, r.Group, r.Sample)
			}
			seen[k] = true
			if err := r.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if len(seen) != writers*each {
			t.Errorf("%s: %d distinct records, want %d", name, len(seen), writers*each)
		}
	}
	recs, err := ReadJSONL(filepath.Join(dir, JSONLName))
	check("jsonl", recs, err)
	recs, err = ReadParquet(filepath.Join(dir, ParquetDir))
	check("parquet", recs, err)
	if w.Count() != writers*each || w.Dropped() != 0 {
		t.Errorf("Count = %d, Dropped = %d", w.Count(), w.Dropped())
	}
}

func TestWriterBadDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	writeFile(t, file, "x")

	t.Run("missing, under a file", func(t *testing.T) {
		_, err := NewWriter(filepath.Join(file, "out"), WriterOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(file, "out")) {
			t.Fatalf("err = %v, want one naming the directory", err)
		}
	})
	t.Run("missing is created", func(t *testing.T) {
		dir := filepath.Join(base, "a", "b")
		w, err := NewWriter(dir, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, JSONLName)); err != nil {
			t.Error(err)
		}
	})
	t.Run("parquet is a file", func(t *testing.T) {
		dir := filepath.Join(base, "pq")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, ParquetDir), "x")
		_, err := NewWriter(dir, WriterOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, ParquetDir)) {
			t.Fatalf("err = %v, want one naming %s", err, filepath.Join(dir, ParquetDir))
		}
	})
	t.Run("read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		dir := filepath.Join(base, "ro")
		if err := os.Mkdir(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		_, err := NewWriter(dir, WriterOptions{})
		if err == nil || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v, want a permission error naming %s", err, dir)
		}
	})
}

// A full disk: the error names the file, is kept, and later writes are dropped
// without a panic.
func TestWriterDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, JSONLName)); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, dir, WriterOptions{})
	w.Write(numbered(1)[0])
	err := w.Flush()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, JSONLName)) || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("Flush = %v, want a no-space error naming records.jsonl", err)
	}
	w.Write(numbered(1)[0])
	if !errors.Is(w.Err(), err) && w.Err().Error() != err.Error() {
		t.Errorf("Err = %v, want %v", w.Err(), err)
	}
	if cerr := w.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close = %v, want %v", cerr, err)
	}
	if w.Dropped() != 2 {
		t.Errorf("Dropped = %d, want 2", w.Dropped())
	}
	if got := partFiles(t, dir); len(got) != 0 {
		t.Errorf("parts written after the error: %v", got)
	}
}

func TestWriterWriteAfterClose(t *testing.T) {
	w := newWriter(t, t.TempDir(), WriterOptions{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write(numbered(1)[0])
	if !errors.Is(w.Err(), ErrClosed) || w.Dropped() != 1 {
		t.Errorf("Err = %v, Dropped = %d", w.Err(), w.Dropped())
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
}

// A record that cannot be encoded (a NaN reward) is dropped alone, with an error
// that names it; the others are saved.
func TestWriterUnencodableRecord(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, dir, WriterOptions{})
	recs := numbered(3)
	bad := recs[1]
	bad.Reward = nanFloat()
	w.Write(recs[0])
	w.Write(bad)
	w.Write(recs[2])
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "k3/g1/s1(repo__issue-1)") {
		t.Fatalf("Close = %v, want an encode error naming the record", err)
	}
	got, rerr := ReadJSONL(filepath.Join(dir, JSONLName))
	if rerr != nil {
		t.Fatal(rerr)
	}
	sameRecords(t, got, []Record{recs[0], recs[2]})
	if w.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", w.Dropped())
	}
}

// The writer works inside a testing/synctest bubble (engine tests run in them): its
// goroutine and the Parquet encoder keep no state across bubbles.
func TestWriterInSynctestBubble(t *testing.T) {
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			w := newWriter(t, dir, WriterOptions{PartRecords: 2})
			want := numbered(3)
			for _, r := range want {
				w.Write(r)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadParquet(filepath.Join(dir, ParquetDir))
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, got, want)
		})
	}
}
