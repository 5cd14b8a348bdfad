package chaos

import (
	"regexp"
	"sort"
	"sync"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// ErrorCount is one kind of failed request and how often it was seen.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// errorTally counts failed requests by message, with the numbers in it
// (object names, ports, addresses) blanked so that one cause is one row.
// It keeps at most maxKinds messages; the rest count as "other".
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int
}

const maxKinds = 20

var digits = regexp.MustCompile(`[0-9]+`)

func (t *errorTally) add(err error) {
	if err == nil {
		return
	}
	msg := digits.ReplaceAllString(lab.OneLine(err.Error(), 300), "N")
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	if _, ok := t.counts[msg]; !ok && len(t.counts) >= maxKinds {
		msg = "other"
	}
	t.counts[msg]++
}

// top are the messages, most frequent first.
func (t *errorTally) top() []ErrorCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ErrorCount, 0, len(t.counts))
	for m, n := range t.counts {
		out = append(out, ErrorCount{m, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Error < out[j].Error
	})
	return out
}
