package core

// External is what the core does not decide itself for one pod: Myriad's
// runtime fills it from kube-scheduler's own plugins (volumes, dynamic
// resources, node-declared features) for the few pods that need them.
//
// Its verdicts depend on objects the snapshot does not hold (claims,
// volumes, devices), so they are never cached: they cost every pod that
// has them, on every node it visits, and nothing to pods that have none.
// Both functions are called with the core's lock held and must not change
// the snapshot.
type External struct {
	// Check runs after all of the core's own filters have passed n. It
	// returns why the pod cannot go there, in kube-scheduler's words, or nil.
	Check func(n *NodeInfo) []string
	// Score returns, for the candidates that passed every filter, each
	// one's weighted score to add to the core's total (kube's plugin
	// weights applied, normalized over these candidates).
	Score func(cands []*NodeInfo) []int64
}

func (e *External) check(n *NodeInfo) []string {
	if e == nil || e.Check == nil {
		return nil
	}
	return e.Check(n)
}
