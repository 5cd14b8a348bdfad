package lab

import "testing"

func TestMachineCPUIsEverythingButIdle(t *testing.T) {
	got, err := parseMachineCPU("cpu  1000 200 300 5000 100 10 20 30 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
	if err != nil || !near(got, 15.6) { // (1000+200+300+10+20+30) / 100
		t.Errorf("busy = %v, %v; want 15.6 s (idle, iowait and guest not counted)", got, err)
	}
	if _, err := parseMachineCPU("intr 1 2 3"); err == nil {
		t.Error("a file without the cpu line was accepted")
	}
}
