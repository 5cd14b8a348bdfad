package lab

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a result was measured: absolute numbers mean
// little without it.
type Machine struct {
	Cores             int    `json:"cores"`
	MemoryBytes       int64  `json:"memoryBytes"`
	CPUModel          string `json:"cpuModel,omitempty"`
	Kernel            string `json:"kernel,omitempty"`
	OS                string `json:"os"`
	Arch              string `json:"arch"`
	GoVersion         string `json:"goVersion"`
	KubernetesVersion string `json:"kubernetesVersion"`
}

// ThisMachine describes the running machine; kubernetesVersion is the
// version of the components under test.
func ThisMachine(kubernetesVersion string) Machine {
	m := Machine{
		Cores:             runtime.NumCPU(),
		OS:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		GoVersion:         runtime.Version(),
		KubernetesVersion: kubernetesVersion,
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryBytes = parseMemTotal(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func parseMemTotal(meminfo string) int64 {
	for line := range strings.Lines(meminfo) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
