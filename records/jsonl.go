package records

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTruncated is wrapped by the error ReadJSONL returns when the file's last line is
// cut short (no newline, not a whole JSON object): what a crash in the middle of a
// write leaves. The good lines before it are returned with the error.
var ErrTruncated = errors.New("truncated last line")

// lineEncoder encodes records as JSON lines, without escaping <, > and & (issue texts
// and patches are full of them, and readers should see them as they are).
type lineEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newLineEncoder() *lineEncoder {
	e := &lineEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// add appends r as one line (with its newline); on error nothing is appended.
func (e *lineEncoder) add(r Record) error { return e.enc.Encode(r) }

// EncodeJSONL writes recs to w, one JSON object per line.
func EncodeJSONL(w io.Writer, recs []Record) error {
	e := newLineEncoder()
	for _, r := range recs {
		e.buf.Reset()
		if err := e.add(r); err != nil {
			return fmt.Errorf("records: encode k%d/g%d/s%d(%s): %w", r.Iteration, r.Group, r.Sample, r.TaskID, err)
		}
		if _, err := w.Write(e.buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSONL writes recs as a complete JSONL file at path, atomically (temporary file,
// sync, rename): path holds every record or does not exist.
func WriteJSONL(path string, recs []Record) error {
	return writeAtomic(path, func(w io.Writer) error { return EncodeJSONL(w, recs) })
}

// ReadJSONL reads a JSONL file of records. Blank lines are skipped. A line that is not
// a record is an error naming path:line, and no records are returned. A last line cut
// short by a crash (no newline and not a whole object) is reported with an error
// wrapping ErrTruncated, returned together with all the good records before it.
// The records' slices are never nil.
func ReadJSONL(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	defer f.Close()
	return decodeJSONL(path, f)
}

func decodeJSONL(path string, r io.Reader) ([]Record, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var out []Record
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("records: read %s:%d: %w", path, line, err)
		}
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		if text := bytes.TrimSpace(b); len(text) > 0 {
			var rec Record
			if jerr := json.Unmarshal(text, &rec); jerr != nil {
				if !complete {
					return out, fmt.Errorf("records: %s:%d: %w (%d bytes, a write cut short; the %d records before it are good): %v",
						path, line, ErrTruncated, len(b), len(out), jerr)
				}
				return nil, fmt.Errorf("records: %s:%d: not a record: %w", path, line, jerr)
			}
			out = append(out, rec.normalize())
		}
		if err == io.EOF {
			return out, nil
		}
	}
}
