package actors

import "fmt"

// GenerationOrder is the order in which waiting generate requests take a free slot
// when the number of generations in flight is capped (MaxInFlightGenerations, like a
// vLLM server's max_num_seqs). It changes which episode waits, never what it samples.
type GenerationOrder string

const (
	// OrderMostTurnsLeft serves first the episode with the most turns left before its
	// turn cap (ties in arrival order): the episodes that can still run longest, and so
	// set the barrier, wait least.
	OrderMostTurnsLeft GenerationOrder = "most-turns-left"
	// OrderFIFO serves requests in arrival order.
	OrderFIFO GenerationOrder = "fifo"
)

// ParseGenerationOrder reads a --generation-order value ("" is the default).
func ParseGenerationOrder(s string) (GenerationOrder, error) {
	switch o := GenerationOrder(s); o {
	case "":
		return OrderMostTurnsLeft, nil
	case OrderMostTurnsLeft, OrderFIFO:
		return o, nil
	}
	return "", fmt.Errorf("generation order %q: want %q or %q", s, OrderMostTurnsLeft, OrderFIFO)
}
