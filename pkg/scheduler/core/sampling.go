package core

import (
	"math"
	"math/rand/v2"
)

// EnoughFunc is relaxed randomization's stopping rule: given the number of
// nodes, how many feasible nodes to find before scoring stops the search.
// It is a named, switchable choice because it trades decision time against
// placement quality; BenchmarkSchedule measures each.
type EnoughFunc func(numNodes int) int

// KubeAdaptive is kube-scheduler's percentageOfNodesToScore rule: with pct 0
// the adaptive 50% - n/125 (at least 5%), and never fewer than 100 nodes.
func KubeAdaptive(pct int) EnoughFunc {
	return func(n int) int {
		const minFeasible, minPct, basePct = 100, 5, 50
		if n < minFeasible {
			return n
		}
		p := pct
		if p <= 0 {
			p = basePct - n/125
			if p < minPct {
				p = minPct
			}
		}
		k := n * p / 100
		if k < minFeasible {
			return minFeasible
		}
		return k
	}
}

// NomadLog2 is Nomad's limit for most jobs: max(2, ceil(log2 n)).
func NomadLog2() EnoughFunc {
	return func(n int) int {
		if n <= 2 {
			return n
		}
		return max(2, int(math.Ceil(math.Log2(float64(n)))))
	}
}

// Fixed stops after k feasible nodes.
func Fixed(k int) EnoughFunc { return func(n int) int { return min(k, n) } }

// AllNodes scores every feasible node: the exact, slow baseline.
func AllNodes() EnoughFunc { return func(n int) int { return n } }

// rotation visits 0..n-1 once in a pseudo-random order: a random start and a
// random stride coprime to n. It is O(1) to set up (no shuffle of 50k slots)
// yet decorrelates successive decisions, which is all Borg's relaxed
// randomization needs.
type rotation struct {
	n, pos, stride, left int
}

func newRotation(r *rand.Rand, n int) rotation {
	if n == 0 {
		return rotation{}
	}
	stride := 1
	for range 8 {
		c := 1 + r.IntN(n)
		if gcd(c, n) == 1 {
			stride = c
			break
		}
	}
	return rotation{n: n, pos: r.IntN(n), stride: stride, left: n}
}

func (r *rotation) next() (int, bool) {
	if r.left == 0 {
		return 0, false
	}
	i := r.pos
	r.pos += r.stride
	if r.pos >= r.n {
		r.pos -= r.n
	}
	r.left--
	return i, true
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
