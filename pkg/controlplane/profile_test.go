package controlplane

import (
	"slices"
	"strings"
	"testing"
)

func TestSeedsProfileSizesFromTheMachine(t *testing.T) {
	machine := int64(24 << 30)
	got := APIServerMemory{}.WithProfile(ProfileSeeds, machine)
	if want := int64(float64(machine) * 0.4); got.Limit != want {
		t.Errorf("limit %d on a 24 GiB machine, want %d (40%%)", got.Limit, want)
	}
	if !slices.Equal(got.WatchCacheSizes, []string{"configmaps#0", "secrets#0"}) {
		t.Errorf("watch cache sizes %v", got.WatchCacheSizes)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the profile's own settings are refused: %v", err)
	}
	// A tiny machine still gets a limit the API server can live with.
	if small := (APIServerMemory{}).WithProfile(ProfileSeeds, 1<<30); small.Limit != MinAPIServerMemoryLimit {
		t.Errorf("limit %d on 1 GiB, want the minimum %d", small.Limit, MinAPIServerMemoryLimit)
	}
	// Unknown memory: no guess.
	if unknown := (APIServerMemory{}).WithProfile(ProfileSeeds, 0); unknown.Limit != 0 {
		t.Errorf("limit %d with the machine's memory unknown, want none", unknown.Limit)
	}
}

// What a user sets explicitly wins; no profile changes nothing.
func TestProfileFillsOnlyWhatIsUnset(t *testing.T) {
	mine := APIServerMemory{Limit: 6 << 30, WatchCacheSizes: []string{"services#0"}}
	if got := mine.WithProfile(ProfileSeeds, 24<<30); got.Limit != mine.Limit || !slices.Equal(got.WatchCacheSizes, mine.WatchCacheSizes) {
		t.Errorf("explicit settings overridden: %+v", got)
	}
	if got := (APIServerMemory{}).WithProfile(ProfileDefault, 24<<30); got.Limit != 0 || got.WatchCacheSizes != nil {
		t.Errorf("no profile, yet %+v", got)
	}
}

func TestValidProfile(t *testing.T) {
	for _, ok := range []string{ProfileDefault, ProfileSeeds} {
		if err := ValidProfile(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	if err := ValidProfile("seed"); err == nil || !strings.Contains(err.Error(), "--profile") {
		t.Errorf(`"seed": %v, want an error naming --profile`, err)
	}
}
