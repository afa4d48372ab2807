// Command gen writes the built-in suite's tasks.jsonl from its txtar sources
// (run by `go generate ./swe/builtin`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/swerl/swerl/swe/builtin"
)

func main() {
	out := flag.String("o", "tasks.jsonl", "output file")
	dir := flag.String("dir", ".", "directory holding tasks/*.txtar")
	flag.Parse()
	srcs, err := builtin.ReadSources(os.DirFS(*dir), "tasks")
	if err == nil {
		var data []byte
		data, err = builtin.Generate(context.Background(), srcs)
		if err == nil {
			err = os.WriteFile(*out, data, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d tasks\n", *out, len(srcs))
}
