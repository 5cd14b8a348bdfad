package usage

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestModels(t *testing.T) {
	const req = 2.0 // cores requested
	for _, c := range []struct {
		model string
		since time.Duration
		want  float64
	}{
		{"250m", time.Hour, 0.25},
		{"1.5", 0, 1.5},
		{"40%", time.Minute, 0.8},
		{"256Mi", 0, 256 << 20},
		{"ramp 100m 900m 4m", 0, 0.1},
		{"ramp 100m 900m 4m", time.Minute, 0.3},
		{"ramp 100m 900m 4m", time.Hour, 0.9},
		{"ramp 100% 0% 10s", 5 * time.Second, 1},
		{"sine 100m 900m 4m", 0, 0.5},
		{"sine 100m 900m 4m", time.Minute, 0.9},
		{"sine 100m 900m 4m", 3 * time.Minute, 0.1},
		{"sine 100m 900m 4m", 5 * time.Minute, 0.9},
		{"steps 0s=100m 2m=800m 5m=50%", 0, 0.1},
		{"steps 0s=100m 2m=800m 5m=50%", 2 * time.Minute, 0.8},
		{"steps 0s=100m 2m=800m 5m=50%", 4 * time.Minute, 0.8},
		{"steps 5m=50% 0s=100m 2m=800m", 6 * time.Minute, 1},
		{"  250m  ", -time.Minute, 0.25},
	} {
		m, err := Parse(c.model)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.model, err)
		}
		if got := m.At(c.since, req); math.Abs(got-c.want) > 1e-9*max(1, c.want) {
			t.Errorf("%q at %s = %g, want %g", c.model, c.since, got, c.want)
		}
	}
}

func TestParseErrorsNameTheWord(t *testing.T) {
	for _, c := range []struct{ model, want string }{
		{"", "empty"},
		{"lots", `"lots" is not an amount`},
		{"-1", `"-1" is not an amount`},
		{"x%", `"x%" is not a percentage`},
		{"ramp 1 2", "three words"},
		{"sine 1 2 0s", "must be positive"},
		{"ramp 1 two 1m", `"two"`},
		{"steps", "at least one"},
		{"steps 1m=2", "first step must be at 0s"},
		{"steps 0s:2", `"0s:2" is not AFTER=AMOUNT`},
		{"steps later=2", `"later" is not a duration`},
		{"250m 300m", "unknown usage model"},
	} {
		_, err := Parse(c.model)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.model, err, c.want)
		}
	}
}

func TestAtDoesNotAllocate(t *testing.T) {
	m, err := Parse("steps 0s=100m 2m=800m 5m=50%")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { m.At(3*time.Minute, 1) }); n != 0 {
		t.Errorf("At allocates %v times per call", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"250m", "40%", "ramp 1 2 3m", "sine 0 1 1s", "steps 0s=1 1m=2"} {
		f.Add(s, int64(time.Minute))
	}
	f.Fuzz(func(t *testing.T, s string, since int64) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		if v := m.At(time.Duration(since), 1); v < 0 || math.IsNaN(v) {
			t.Fatalf("%q at %d = %g", s, since, v)
		}
		const level = 1 << 30
		if since >= 0 && since < int64(1000*time.Hour) {
			if d := m.FirstAbove(level, time.Duration(since), 1); d != Never && (d < 0 || m.At(time.Duration(since)+d, 1) <= level) {
				t.Fatalf("%q from %d: above after %s, but At is %g there", s, since, d, m.At(time.Duration(since)+d, 1))
			}
		}
	})
}

// FirstAbove's answer is where the model is above the level, and it is
// never above the level before (sampled every 100ms).
func TestFirstAbove(t *testing.T) {
	const limit = 1 << 30 // 1Gi
	for _, c := range []struct {
		model string
		since time.Duration
		want  time.Duration // Never, or roughly when
	}{
		{"512Mi", 0, Never},
		{"2Gi", time.Minute, 0},
		{"ramp 512Mi 1536Mi 10m", 0, 5 * time.Minute},
		{"ramp 512Mi 1536Mi 10m", 2 * time.Minute, 3 * time.Minute},
		{"ramp 512Mi 1Gi 10m", 0, Never},
		{"sine 512Mi 1536Mi 4m", 0, 0},                                       // the midpoint is the limit: above at once
		{"sine 0 1536Mi 4m", 0, 12982 * time.Millisecond},                    // sin θ > 1/3
		{"sine 256Mi 1280Mi 4m", 0, 20 * time.Second},                        // sin θ > 1/2 from θ = π/6
		{"sine 0 1280Mi 4m", 0, 24580 * time.Millisecond},                    // sin θ > 0.6 from θ = 0.6435
		{"sine 0 1280Mi 4m", 2 * time.Minute, 144580 * time.Millisecond},     // the next cycle
		{"sine 1000Mi 1100Mi 4m", 3 * time.Minute, 39113 * time.Millisecond}, // the level is below the midpoint: the crossing is late in the cycle
		{"sine 0 512Mi 4m", 0, Never},
		{"steps 0s=100Mi 2m=900Mi 5m=2Gi 7m=100Mi", time.Minute, 4 * time.Minute},
		{"steps 0s=100Mi 2m=900Mi", 0, Never},
	} {
		m, err := Parse(c.model)
		if err != nil {
			t.Fatal(err)
		}
		got := m.FirstAbove(limit, c.since, 0)
		if c.want == Never || got == Never {
			if got != c.want {
				t.Errorf("%q from %s: %s, want %s", c.model, c.since, got, c.want)
			}
			continue
		}
		if d := got - c.want; d < -time.Second || d > time.Second {
			t.Errorf("%q from %s: above after %s, want about %s", c.model, c.since, got, c.want)
		}
		if m.At(c.since+got, 0) <= limit {
			t.Errorf("%q from %s: at %s it is %g, not above", c.model, c.since, got, m.At(c.since+got, 0))
		}
		for s := time.Duration(0); s+100*time.Millisecond < got; s += 100 * time.Millisecond {
			if m.At(c.since+s, 0) > limit {
				t.Errorf("%q from %s: above already %s on, before %s", c.model, c.since, s, got)
				break
			}
		}
	}
}

func TestHugeExponentIsRefusedAtOnce(t *testing.T) {
	for _, s := range []string{"000100E1000010000000", "1e400", "ramp 0 1E-99999 1m"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
	if _, err := Parse("1e3"); err != nil {
		t.Errorf("Parse(1e3): %v", err)
	}
}
