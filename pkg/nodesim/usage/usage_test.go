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
	})
}
