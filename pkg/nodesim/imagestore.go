package nodesim

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// imageStore is what one node's container runtime holds: the images it
// has pulled or is pulling, by image ID, each with the moment its pull
// ends, and when its puller is next free. A container whose image is
// already there starts without a pull, as under imagePullPolicy
// IfNotPresent (and, with the layers there, Always costs a manifest check,
// which is not modelled); a container whose image another pod of the node
// is pulling waits for that pull rather than start another, as containerd
// shares it; with serial pulls (the kubelet's default) a new pull queues
// behind the one in progress.
//
// Only pulls that take time are kept, so under the fast profile the store
// stays empty and costs nothing. The images take their size of the node's
// disk; the eviction manager's image garbage collector (diskpressure.go)
// deletes those no container uses when the disk fills. The store is
// memory: a restarted simulator rebuilds it from the running
// containers it finds (rebuildImageStores), and a pull in progress then
// starts again from its beginning.
type imageStore struct {
	mu    sync.Mutex
	pulls map[string]imagePull // image ID → its pull
	free  time.Time            // when the serial puller is free
	// deleted counts the images garbage-collected, so that a status
	// report sees the list change even when a pull ended meanwhile.
	deleted int
}

type imagePull struct {
	names []string // as status.images lists it: repository@digest, then the reference pulled
	size  int64
	done  time.Time
	// lastUsed is the last time the garbage collector found a container
	// of the image (the pull's end until then).
	lastUsed time.Time
}

// pull returns when image id (size bytes, costing cost to pull) is on
// the node for a container that wants it from base, starting a pull if
// none has. It is idempotent for a given (id, base): a pod's status is
// recomputed at every look, and every look must see the same pull.
func (s *imageStore) pull(id string, names []string, size int64, cost time.Duration, base time.Time, serial bool) time.Time {
	if cost <= 0 {
		return base
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pulls[id]; ok {
		return later(p.done, base)
	}
	start := base
	if serial {
		start = later(s.free, base)
	}
	done := start.Add(cost)
	if serial {
		s.free = done
	}
	if s.pulls == nil {
		s.pulls = map[string]imagePull{}
	}
	s.pulls[id] = imagePull{names: names, size: size, done: done, lastUsed: done}
	return done
}

// have records image id as already on the node since at (a running
// container of it was found). A pull in progress keeps its end.
func (s *imageStore) have(id string, names []string, size int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pulls[id]; ok && !p.done.After(at) {
		return
	}
	if s.pulls == nil {
		s.pulls = map[string]imagePull{}
	}
	s.pulls[id] = imagePull{names: names, size: size, done: at, lastUsed: at}
}

// imagesMark says what status.images shows: the images whose pull has
// ended, and how many were ever deleted. status.images changes when it
// does.
type imagesMark struct{ pulled, deleted int }

// mark is the store's imagesMark at now.
func (s *imageStore) mark(now time.Time) imagesMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := imagesMark{deleted: s.deleted}
	for _, p := range s.pulls {
		if !p.done.After(now) {
			m.pulled++
		}
	}
	return m
}

// bytes is what the images take of the node's disk, those being pulled
// included (their space is claimed when the pull starts).
func (s *imageStore) bytes() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b float64
	for _, p := range s.pulls {
		b += float64(p.size)
	}
	return b
}

// empty: the store holds nothing (always, under the fast profile).
func (s *imageStore) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pulls) == 0
}

// collect is the kubelet's image garbage collection: having marked the
// images inUse says a container uses as used at now, it deletes the
// others, least recently used first, until it has freed want bytes. An
// image pulled less than minAge ago, or still being pulled, stays. It
// returns the bytes freed.
func (s *imageStore) collect(inUse func(id string) bool, want float64, minAge time.Duration, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	type candidate struct {
		id   string
		pull imagePull
	}
	var unused []candidate
	for id, p := range s.pulls {
		if inUse(id) {
			p.lastUsed = now
			s.pulls[id] = p
			continue
		}
		if p.done.After(now) || now.Sub(p.done) < minAge {
			continue
		}
		unused = append(unused, candidate{id, p})
	}
	sort.Slice(unused, func(i, j int) bool {
		a, b := unused[i].pull, unused[j].pull
		if !a.lastUsed.Equal(b.lastUsed) {
			return a.lastUsed.Before(b.lastUsed)
		}
		return unused[i].id < unused[j].id
	})
	var freed float64
	for _, c := range unused {
		if freed >= want {
			break
		}
		delete(s.pulls, c.id)
		s.deleted++
		freed += float64(c.pull.size)
	}
	return freed
}

// statusImages is status.images of a node holding the pulled images beside
// base (the images every node reports): largest first, at most max, as
// the kubelet reports them. base is shared and never modified.
func (s *imageStore) statusImages(base []corev1.ContainerImage, now time.Time, max int) []corev1.ContainerImage {
	s.mu.Lock()
	var own []corev1.ContainerImage
	for _, p := range s.pulls {
		if !p.done.After(now) {
			own = append(own, corev1.ContainerImage{Names: p.names, SizeBytes: p.size})
		}
	}
	s.mu.Unlock()
	if len(own) == 0 {
		return base
	}
	out := append(own, base...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].SizeBytes != out[j].SizeBytes {
			return out[i].SizeBytes > out[j].SizeBytes
		}
		return out[i].Names[0] < out[j].Names[0]
	})
	if max >= 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
