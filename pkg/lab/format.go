package lab

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// How figures are written for people: an absent figure is "—", never 0.

func SecondsH(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func LatH(s *float64) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", *s*1000)
}

func BytesP(b *float64) string {
	if b == nil {
		return "—"
	}
	return BytesH(*b)
}

func BytesH(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func SortedPairs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// machineLine is the one-line description of where a run was measured.
func MachineLine(m Machine) string {
	return fmt.Sprintf("%d cores, %s memory, %s, Linux %s, %s, Kubernetes %s",
		m.Cores, BytesH(float64(m.MemoryBytes)), OrDash(m.CPUModel), OrDash(m.Kernel), m.GoVersion, m.KubernetesVersion)
}

// fmtOpt formats an optional figure, "—" when absent.
func FmtOpt(v *float64, format string) string {
	if v == nil || math.IsNaN(*v) {
		return "—"
	}
	return fmt.Sprintf(format, *v)
}

// scaledPtr is v*by, nil when v is.
func ScaledPtr(v *float64, by float64) *float64 {
	if v == nil {
		return nil
	}
	return Some(*v * by)
}

// msOpt formats optional seconds as milliseconds.
func MsOpt(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", *v*1000)
}
