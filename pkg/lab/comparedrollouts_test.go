package lab

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// An in-place phase that did not finish lets the recreating one run (its
// figures are still wanted); any other stops the run and names the
// phases not run, as does a hand-over whose pods never went.
func TestRunComparedGoesOnOnlyAfterInPlace(t *testing.T) {
	for _, tc := range []struct {
		name, failing string
		handOverFails bool
		ran           string
		skipped       string
	}{
		{"all done", "", false, "create,in-place,recreate,upstream create,upstream", ""},
		{"in place stuck", RolloutInPlace, false, "create,in-place,recreate,upstream create,upstream", ""},
		{"recreate stuck", RolloutRecreate, false, "create,in-place,recreate",
			"phase 4 (upstream create): phase 3 (recreate) did not finish|phase 5 (upstream): phase 3 (recreate) did not finish"},
		{"pods never gone", "", true, "create,in-place,recreate",
			"phase 4 (upstream create): the old pods were not gone|phase 5 (upstream): the old pods were not gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			skipped, err := RunCompared(context.Background(), NewConsole(&bytes.Buffer{}), ComparedSteps{
				Kinds: ComparedKinds(true), Gone: "the old pods",
				HandOver: func(context.Context) error {
					if tc.handOverFails {
						return errors.New("still there")
					}
					return nil
				},
				Phase: func(_ context.Context, _, _ int, kind string) error {
					ran = append(ran, kind)
					if kind == tc.failing {
						return errors.New("timed out")
					}
					return nil
				},
				Settle: func(context.Context, string) {},
			})
			if got := strings.Join(ran, ","); got != tc.ran {
				t.Errorf("ran %s, want %s", got, tc.ran)
			}
			if got := strings.Join(skipped, "|"); got != tc.skipped {
				t.Errorf("skipped %q, want %q", got, tc.skipped)
			}
			stopped := tc.handOverFails || (tc.failing != "" && tc.failing != RolloutInPlace)
			if stopped != (err != nil) {
				t.Errorf("error %v; want one: %v", err, stopped)
			}
		})
	}
}
