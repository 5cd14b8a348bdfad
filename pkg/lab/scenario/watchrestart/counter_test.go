package watchrestart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/myriad-dev/myriad/pkg/lab"
)

// fakeServer plays an API server for one watcher: a fixed list, and the
// watches it is asked for, in order; the second one answers 410 unless the
// watcher's version is fresh (it received a bookmark).
type fakeServer struct {
	mu        sync.Mutex
	items     int
	watches   []*watch.FakeWatcher
	bookmarks []bool // AllowWatchBookmarks of each watch request
	fresh     bool
}

func (s *fakeServer) list(context.Context, metav1.ListOptions) (runtime.Object, error) {
	l := &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "100"}}
	for i := range s.items {
		l.Items = append(l.Items, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "ns", ResourceVersion: "90"}})
	}
	return l, nil
}

func (s *fakeServer) watch(_ context.Context, o metav1.ListOptions) (watch.Interface, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := watch.NewFakeWithChanSize(4, false)
	if len(s.watches) == 1 && !s.fresh {
		w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
	}
	s.watches = append(s.watches, w)
	s.bookmarks = append(s.bookmarks, o.AllowWatchBookmarks)
	return w, nil
}

func (s *fakeServer) watchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watches)
}

// runWatcher runs a real client-go reflector through a WatchCounter against
// a fake server: sync, (a bookmark), the restart breaks the stream, and the
// reflector resumes or relists.
func runWatcher(t *testing.T, bookmarks bool) (WatcherReport, []bool) {
	t.Helper()
	srv := &fakeServer{items: 10}
	c := &WatchCounter{Bookmarks: bookmarks, ListFunc: srv.list, WatchFunc: srv.watch, Clock: clock.RealClock{}}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	r := cache.NewReflectorWithOptions(c, &corev1.ConfigMap{}, store, cache.ReflectorOptions{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { r.Run(stop); close(done) }()
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			<-done
		}
	}()
	eventually(t, func() bool { return len(store.List()) == 10 && srv.watchCount() == 1 })
	if bookmarks {
		srv.mu.Lock()
		srv.fresh = true
		srv.watches[0].Action(watch.Bookmark, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "150"}})
		srv.mu.Unlock()
		eventually(t, func() bool { return r.LastSyncResourceVersion() == "150" })
	} else {
		// A watch that ends within a second having delivered nothing is
		// treated as broken at once; one event makes it an ordinary watch.
		srv.mu.Lock()
		srv.watches[0].Modify(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-0", Namespace: "ns", ResourceVersion: "95"}})
		srv.mu.Unlock()
		eventually(t, func() bool { return r.LastSyncResourceVersion() == "95" })
	}
	c.Mark()
	srv.mu.Lock()
	srv.watches[0].Stop() // the connection breaks: the stream ends under the reflector
	srv.mu.Unlock()
	want := 2 // resumed
	if !bookmarks {
		want = 3 // 410, relist, watch again
	}
	eventually(t, func() bool { return srv.watchCount() == want })
	rep := c.Report("ns", 10)
	// Shutting the watcher down is not the server's doing: nothing changes.
	c.Freeze()
	close(stop)
	<-done
	stopped = true
	if after := c.Report("ns", 10); !reflect.DeepEqual(after, rep) {
		t.Errorf("stopping the watcher changed its counts:\n%+v\n%+v", rep, after)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return rep, append([]bool(nil), srv.bookmarks...)
}

func TestWatchCounterCountsResumeAndRelist(t *testing.T) {
	on, onAsked := runWatcher(t, true)
	off, offAsked := runWatcher(t, false)
	for _, asked := range onAsked {
		if !asked {
			t.Errorf("watcher with bookmarks sent allowWatchBookmarks=false: %v", onAsked)
		}
	}
	for _, asked := range offAsked {
		if asked {
			t.Errorf("watcher without bookmarks sent allowWatchBookmarks=true: %v", offAsked)
		}
	}
	if !on.Disrupted || on.Relisted || on.After.Resent() != 0 || on.Before.Bookmarks != 1 || on.Before.ListItems != 10 {
		t.Errorf("with bookmarks: %+v; want disrupted, resumed, nothing re-sent, 1 bookmark and 10 items before", on)
	}
	if !off.Disrupted || !off.Relisted || off.After.ListItems != 10 || off.After.Expired != 1 || off.After.Lists != 1 {
		t.Errorf("without bookmarks: %+v; want disrupted, one 410, one LIST of 10 items after", off)
	}
	if on.RecoverySeconds == nil || off.RecoverySeconds == nil {
		t.Errorf("recovery not measured: on %v, off %v", on.RecoverySeconds, off.RecoverySeconds)
	}

	restart := time.Now()
	res := BuildResult(Input{Info: lab.RunInfo{Scenario: "watch-restart"}, Objects: 10,
		Watchers: []WatcherReport{on, off}, Restarted: "kube-apiserver-0 (SIGTERM)", RestartAt: &restart,
		ChurnWrites: 600, ChurnSeconds: 30})
	if !res.Verdict.Pass {
		t.Fatalf("verdict %+v; want pass", res.Verdict)
	}
	if deref(res.On.ResentFraction) != 0.0 || deref(res.Off.ResentFraction) != 1.0 || deref(res.RelistRatio) != 0.0 {
		t.Errorf("fractions on %v off %v ratio %v; want 0, 1, 0", deref(res.On.ResentFraction), deref(res.Off.ResentFraction), deref(res.RelistRatio))
	}
	if res.Off.Relisted != 1 || res.On.Resumed != 1 || deref(res.ChurnWritesPerSec) != 20.0 {
		t.Errorf("arms %+v / %+v, churn %v", res.On, res.Off, deref(res.ChurnWritesPerSec))
	}

	dir := t.TempDir()
	path, err := lab.Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	for _, want := range []string{"bookmarks on", "100.0%", "0.0%", "relisted", "<svg"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "result.json")); err != nil {
		t.Error(err)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
