package lab

import "math"

// near compares computed figures that are equal but for rounding.
func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// deref prints an optional figure as its value or nil.
func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
