package chaos

import (
	"fmt"
	"sort"
	"sync"
)

// Ledger keeps every write the API server acknowledged, so that the end
// of the run can prove none was lost.
//
// Two kinds of write are kept. A create of a new key is acknowledged when
// the API server answered 201: the key must exist at the end. An update
// of a key carries a sequence number one higher than the last one read or
// written; once acknowledged, the key must never be seen with a lower
// one (a later write that timed out may have landed, so a higher number
// is fine). A write that failed or timed out proves nothing either way
// and is only counted.
type Ledger struct {
	mu       sync.Mutex
	created  map[string]bool
	updated  map[string]int64 // the highest acknowledged sequence per key
	acks     int
	unknowns int
}

// NewLedger is an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{created: map[string]bool{}, updated: map[string]int64{}}
}

// Created records an acknowledged create of key.
func (l *Ledger) Created(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.created[key] = true
	l.acks++
}

// Updated records an acknowledged update of key to seq.
func (l *Ledger) Updated(key string, seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq > l.updated[key] {
		l.updated[key] = seq
	}
	l.acks++
}

// Unknown records a write whose outcome the client never learnt.
func (l *Ledger) Unknown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unknowns++
}

// Counts are the acknowledged writes and the ones of unknown outcome.
func (l *Ledger) Counts() (acked, unknown int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks, l.unknowns
}

// Check compares the ledger with what the store holds at the end: stored
// maps every key found to its sequence (0 for a created key). It returns
// one line per lost write, sorted.
func (l *Ledger) Check(stored map[string]int64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost []string
	for k := range l.created {
		if _, ok := stored[k]; !ok {
			lost = append(lost, fmt.Sprintf("%s: created (acknowledged), missing at the end", k))
		}
	}
	for k, seq := range l.updated {
		got, ok := stored[k]
		switch {
		case !ok:
			lost = append(lost, fmt.Sprintf("%s: updated to %d (acknowledged), missing at the end", k, seq))
		case got < seq:
			lost = append(lost, fmt.Sprintf("%s: updated to %d (acknowledged), %d at the end", k, seq, got))
		}
	}
	sort.Strings(lost)
	return lost
}
