package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Bad flags and unusable data directories stop `myriad up` at once with one
// line naming what to fix, and leave the directory as it was.
func TestUpRefusesBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o600)
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	fresh := func() string { return filepath.Join(t.TempDir(), "d") }

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"up", "--nodez", "3"}, "unknown flag: --nodez"},
		{"negative nodes", []string{"up", "--data-dir", fresh(), "--nodes", "-1"}, "--nodes"},
		{"bad quota", []string{"up", "--data-dir", fresh(), "--etcd-quota", "lots"}, "--etcd-quota"},
		{"port in use", []string{"up", "--data-dir", fresh(), "--port", itoa(busyPort)}, "--port"},
		{"foreign directory", []string{"up", "--data-dir", foreign}, "not created by myriad"},
		{"file as directory", []string{"up", "--data-dir", file}, "is a file"},
		{"stray argument", []string{"up", "now"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(binary, tc.args...).CombinedOutput()
			msg := strings.TrimSpace(string(out))
			if err == nil {
				t.Fatalf("myriad %v succeeded:\n%s", tc.args, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
			if strings.Count(msg, "\n") > 0 {
				t.Fatalf("want one line, got:\n%s", msg)
			}
		})
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 1 {
		t.Fatalf("foreign directory was modified: %d entries", len(entries))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(out)), err
}
