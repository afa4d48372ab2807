package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/swerl/swerl/internal/atomicfile"
	"github.com/swerl/swerl/policy/rft"
	"github.com/swerl/swerl/records"
	"github.com/swerl/swerl/swe"
)

const rftUsage = `usage: swerl rft --in RECORDS --out FILE

Turns trajectory records (records.jsonl, or a Parquet file or directory of parts) into
rejection fine-tuning data (PAPER.md): resolved trajectories only; assistant turns that
caused a format error stay in the context with loss weight 0; observations are never
trained on. FILE is JSONL: chat messages (with a weight on each assistant message) plus
input_ids and loss_mask.
`

func rftCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rftUsage); fs.PrintDefaults() }
	in := fs.String("in", "", "records: a .jsonl file, a .parquet file or a directory of Parquet parts")
	out := fs.String("out", "", "SFT data to write (JSONL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return errors.New("rft: need --in RECORDS and --out FILE")
	}
	recs, err := readRecords(*in)
	switch {
	case errors.Is(err, records.ErrTruncated) && len(recs) > 0:
		// A crash mid-write leaves a torn last line: the records before it are whole.
		fmt.Fprintf(stderr, "warning: %v (using the %d whole records before it)\n", err, len(recs))
	case err != nil:
		return fmt.Errorf("rft: %w", err)
	}
	ex, st := rft.Build(recs, rft.Options{SystemPrompt: swe.SystemPrompt, FirstMessage: swe.FirstMessage})
	if err := atomicfile.Write(*out, func(w io.Writer) error { return rft.WriteJSONL(w, ex) }); err != nil {
		return fmt.Errorf("rft: %w", err)
	}
	fmt.Fprintf(stdout, "%d records in: %d resolved kept; dropped %d unresolved, %d abandoned, %d invalid, %d empty; %d format-error turns masked; %d turns and %d tokens trained\nwrote %s\n",
		st.Records, st.Kept, st.DroppedUnresolved, st.DroppedAbandoned, st.DroppedInvalid, st.DroppedEmpty, st.MaskedTurns, st.TrainedTurns, st.TrainedTokens, *out)
	if st.Kept == 0 {
		return fmt.Errorf("rft: no resolved trajectory in %s: nothing to fine-tune on", *in)
	}
	return nil
}

// readRecords reads JSONL or Parquet records, by the path's form.
func readRecords(path string) ([]records.Record, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() || strings.HasSuffix(path, ".parquet") {
		return records.ReadParquet(path)
	}
	return records.ReadJSONL(path)
}
