package kubeletapi

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

func lines(body string) []string { return strings.Split(strings.TrimSuffix(body, "\n"), "\n") }

func TestContainerLogs(t *testing.T) {
	now := t0.Add(10 * time.Second) // started at t0: lines 1..11 printed
	pod := runningPod("web-1", "node-0", t0, 1)
	custom := runningPod("custom", "node-0", t0, 0)
	custom.Annotations = map[string]string{LogPatternAnnotation: "{namespace}/{pod}/{container} #{n} on {node} (run {restart})", LogIntervalAnnotation: "5s"}
	bad := runningPod("bad-interval", "node-0", t0, 0)
	bad.Annotations = map[string]string{LogIntervalAnnotation: "often"}
	s, _ := newTestServer(t, testingclock.NewFakeClock(now), pod, custom, bad)
	h := onNode(s, "node-0")

	for _, tc := range []struct {
		name, query string
		want        []string // whole body, line by line
		wantCode    int
	}{
		{"every line so far, default pattern", "", seq("web-1 app line ", 1, 11), 200},
		{"tailLines", "?tailLines=3", seq("web-1 app line ", 9, 11), 200},
		{"tailLines=0 shows nothing", "?tailLines=0", []string{""}, 200},
		{"sinceSeconds", "?sinceSeconds=4", seq("web-1 app line ", 7, 11), 200},
		{"sinceSeconds and tailLines: the stricter wins", "?sinceSeconds=4&tailLines=2", seq("web-1 app line ", 10, 11), 200},
		{"timestamps", "?tailLines=1&timestamps=true", []string{"2026-12-04T10:00:10Z web-1 app line 11"}, 200},
		{"previous run after a restart", "?previous=true", seq("web-1 app line ", 1, 5), 200},
		{"stderr is empty", "?stream=Stderr", []string{""}, 200},
		{"bad tailLines", "?tailLines=-3", []string{"tailLines: \"-3\" must be a non-negative integer"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, h, "/containerLogs/default/web-1/app"+tc.query)
			if code != tc.wantCode || strings.Join(lines(body), "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %d:\n%s\nwant %d:\n%s", code, body, tc.wantCode, strings.Join(tc.want, "\n"))
			}
		})
	}

	t.Run("limitBytes cuts the output", func(t *testing.T) {
		_, body := get(t, h, "/containerLogs/default/web-1/app?limitBytes=20")
		if body != "web-1 app line 1\nweb" {
			t.Fatalf("got %q", body)
		}
	})
	t.Run("the pod's pattern and interval", func(t *testing.T) {
		_, body := get(t, h, "/containerLogs/default/custom/app")
		want := []string{"default/custom/app #1 on node-0 (run 0)", "default/custom/app #2 on node-0 (run 0)", "default/custom/app #3 on node-0 (run 0)"}
		if strings.Join(lines(body), "|") != strings.Join(want, "|") {
			t.Fatalf("got:\n%s", body)
		}
	})
	t.Run("a malformed interval falls back to the default", func(t *testing.T) {
		if _, body := get(t, h, "/containerLogs/default/bad-interval/app"); len(lines(body)) != 11 {
			t.Fatalf("got %d lines, want 11 (1s default):\n%s", len(lines(body)), body)
		}
	})
	t.Run("no previous run", func(t *testing.T) {
		code, body := get(t, h, "/containerLogs/default/custom/app?previous=true")
		if code != 400 || !strings.Contains(body, `previous terminated container "app" in pod "custom" not found`) {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("a pod of another node is not found", func(t *testing.T) {
		if code, body := get(t, onNode(s, "node-1"), "/containerLogs/default/web-1/app"); code != 404 || !strings.Contains(body, "not found on node node-1") {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("an unknown container", func(t *testing.T) {
		if code, body := get(t, h, "/containerLogs/default/web-1/sidecar"); code != 404 || !strings.Contains(body, `container "sidecar" is not valid`) {
			t.Fatalf("got %d %q", code, body)
		}
	})
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// TestFollowLogs follows a container that prints every 20ms: new lines
// arrive while the request is open, numbered on from the history.
func TestFollowLogs(t *testing.T) {
	start := time.Now()
	pod := runningPod("web-1", "node-0", start, 0)
	pod.Annotations = map[string]string{LogIntervalAnnotation: "20ms"}
	s, _ := newTestServer(t, clock.RealClock{}, pod)
	srv := httptest.NewServer(onNode(s, "node-0"))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/containerLogs/default/web-1/app?follow=true&tailLines=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for len(got) < 5 && sc.Scan() {
		got = append(got, sc.Text())
	}
	if len(got) < 5 {
		t.Fatalf("followed only %d lines in 2s: %q (%v)", len(got), got, sc.Err())
	}
	// Consecutive line numbers: nothing lost or repeated between history
	// and the followed part.
	var first int
	for i, l := range got {
		var n int
		if _, err := fmt.Sscanf(l, "web-1 app line %d", &n); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i == 0 {
			first = n
		} else if n != first+i {
			t.Fatalf("lines %q are not consecutive", got)
		}
	}
}
