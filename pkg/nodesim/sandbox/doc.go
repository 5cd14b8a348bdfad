// Package sandbox is the inside of a simulated container: the files it
// sees and writes, its environment, and the commands it runs — for
// `kubectl exec` (package kubeletapi) and for exec and HTTP probes
// (package nodesim), so that what a user does in a container is what its
// probes see, as on a real node. OpenKruise's and upstream's StatefulSet
// tests, for example, hold a pod unready with `test -f /data/continue` and
// release it with `kubectl exec ... touch /data/continue`.
//
// Files written in a container live in Files: one layer per container run
// (a restarted container starts from its image again, as a new container
// does) and one tree per volume that can hold data (a claim's tree outlives
// its pods, as a volume's data does; an emptyDir's lives as long as its
// pod). Below the layer are the image's files, from the image catalogue,
// and the files the kubelet writes into every container (/etc/hosts and
// the like). Nothing is stored until a command writes, so 200,000 pods that
// are never exec'd into cost nothing, and the total is bounded.
//
// Shell syntax is interpreted by mvdan.cc/sh's interp, the maintained
// POSIX/Bash interpreter in Go, with every one of its doors to the host —
// opening, listing and stat'ing files, running programs — replaced by this
// package's handlers.
//
// The package must never touch the host: no host file is read, written or
// stat'ed on a command's behalf and no host process is started. It does not
// talk to the API server; callers give it the pod and container.
package sandbox
