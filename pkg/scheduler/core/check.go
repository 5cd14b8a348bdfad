package core

// NodeCheck is a filter the core does not own, run after all of the core's
// own filters have passed a node: Myriad's runtime uses it for what it
// leaves to kube-scheduler's own plugins (volumes, dynamic resources), for
// the few pods that need them. It returns why the pod cannot go to n, in
// kube-scheduler's words, or nil.
//
// Its verdicts depend on objects the snapshot does not hold (claims,
// volumes, devices), so they are never cached: a check costs every pod that
// has one, on every node it visits, and nothing to pods that have none. It
// must not change the snapshot, and is called with the core's lock held.
type NodeCheck func(n *NodeInfo) []string
