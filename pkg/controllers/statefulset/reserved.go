package statefulset

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// ParseReserveOrdinal reads one spec.reserveOrdinals entry as OpenKruise
// v1.9 accepts it: a non-negative integer, or a string "a-b" of two
// non-negative integers with a <= b, meaning a through b inclusive. It
// returns the first and last ordinal reserved.
func ParseReserveOrdinal(v intstr.IntOrString) (first, last int, err error) {
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return 0, 0, fmt.Errorf("must be a non-negative ordinal, got %d", v.IntVal)
		}
		return int(v.IntVal), int(v.IntVal), nil
	}
	a, b, ok := strings.Cut(v.StrVal, "-")
	first, errA := parseOrdinal(a)
	last, errB := parseOrdinal(b)
	if !ok || errA != nil || errB != nil {
		return 0, 0, fmt.Errorf("must be an ordinal or a range such as \"3-5\", got %q", v.StrVal)
	}
	if first > last {
		return 0, 0, fmt.Errorf("range %q starts after it ends; write \"%d-%d\"", v.StrVal, last, first)
	}
	return first, last, nil
}

// parseOrdinal accepts digits only (no sign, no space), as OpenKruise's
// `^\d+-\d+$` does.
func parseOrdinal(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not an ordinal: %q", s)
	}
	return strconv.Atoi(s)
}

// ReservedOrdinals expands spec.reserveOrdinals into the set of reserved
// ordinals that matter to a set of replicas from start: those from start up
// to the last ordinal the set can reach. What lies beyond is never
// expanded, so a range such as "100-1000000" costs a set of 10 nothing.
func ReservedOrdinals(entries []intstr.IntOrString, start, replicas int) (map[int]bool, error) {
	type span struct{ first, last int }
	var spans []span
	for i, e := range entries {
		a, b, err := ParseReserveOrdinal(e)
		if err != nil {
			return nil, fmt.Errorf("spec.reserveOrdinals[%d]: %w", i, err)
		}
		spans = append(spans, span{max(a, start), b})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].first < spans[j].first })
	// The set runs replicas ordinals from start, skipping reserved ones:
	// its highest is start+replicas-1 plus the reserved ordinals below it.
	// Walk the spans in order, pushing that bound past each one it reaches.
	out := map[int]bool{}
	end := start + replicas // one past the highest ordinal so far
	for _, s := range spans {
		if s.first >= end {
			break
		}
		for o := s.first; o <= s.last && o < end; o++ {
			if !out[o] {
				out[o] = true
				end++
			}
		}
	}
	return out, nil
}
