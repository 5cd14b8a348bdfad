package supervisor

import (
	"bytes"
	"io"
	"os"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Log rotation. A child's log sits in the data directory, on the disk that
// also holds etcd's data: an API server at 10,000 nodes can write
// gigabytes, and a full disk stops etcd. Children write through a pipe to
// a size-capped, rotated file (lumberjack, the rotation library upstream
// components use), so the logs of one component never exceed
// (LogBackups+1) × LogMaxMiB.
const (
	LogMaxMiB  = 100
	LogBackups = 3
)

func newLogWriter(path string) *lumberjack.Logger {
	return &lumberjack.Logger{Filename: path, MaxSize: LogMaxMiB, MaxBackups: LogBackups}
}

// lastError is the line of a log that best says why its process died: the
// last line that reads like an error (klog's E/F prefixes, "error",
// "fatal", "panic"), else the last line. It reads only the log's tail.
func lastError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > tail {
		if _, err := f.Seek(st.Size()-tail, io.SeekStart); err != nil {
			return ""
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(bytes.TrimSpace(data)), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-200; i-- {
		if looksLikeError(lines[i]) {
			return clip(strings.TrimSpace(lines[i]))
		}
	}
	return clip(strings.TrimSpace(lines[len(lines)-1]))
}

func looksLikeError(line string) bool {
	if len(line) > 1 && (line[0] == 'E' || line[0] == 'F') && line[1] >= '0' && line[1] <= '9' {
		return true // klog: E1204 12:00:00.000000 ...
	}
	l := strings.ToLower(line)
	return strings.Contains(l, "error") || strings.Contains(l, "fatal") || strings.HasPrefix(l, "panic")
}

func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + " ..."
	}
	return s
}
