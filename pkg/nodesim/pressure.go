package nodesim

import (
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pressure is one pressure condition of a node as the eviction manager
// decided it: whether it holds, and when it last changed (unix
// nanoseconds, 0: never). The manager writes it; the node's heartbeat
// reads it.
type pressure struct {
	on    atomic.Bool
	since atomic.Int64
}

// conditionText is what a kubelet says of one pressure condition: its
// reason and message each way, and the event of each transition.
type conditionText struct {
	typ                          corev1.NodeConditionType
	bit                          int8 // in simNode.pressureReported
	okReason, okMessage, okEvent string
	reason, message, event       string
}

var (
	memoryCondition = conditionText{typ: corev1.NodeMemoryPressure, bit: 1,
		okReason: "KubeletHasSufficientMemory", okMessage: "kubelet has sufficient memory available", okEvent: "NodeHasSufficientMemory",
		reason: "KubeletHasInsufficientMemory", message: "kubelet has insufficient memory available", event: "NodeHasInsufficientMemory"}
	diskCondition = conditionText{typ: corev1.NodeDiskPressure, bit: 2,
		okReason: "KubeletHasNoDiskPressure", okMessage: "kubelet has no disk pressure", okEvent: "NodeHasNoDiskPressure",
		reason: "KubeletHasDiskPressure", message: "kubelet has disk pressure", event: "NodeHasDiskPressure"}
)

// setPressure changes condition c (p of node n), which the node reports
// at its next heartbeat, with the kubelet's event.
func (s *sim) setPressure(n *simNode, p *pressure, c conditionText, on bool, now time.Time) {
	p.since.Store(now.UnixNano())
	p.on.Store(on)
	event := c.okEvent
	if on {
		event = c.event
	}
	s.events.node(n.name, false, event, fmt.Sprintf("Node %s status is now: %s", n.name, event))
}

// condition is c as node n reports it at hb, from p.
func (c conditionText) condition(n *simNode, p *pressure, hb metav1.Time) corev1.NodeCondition {
	out := corev1.NodeCondition{Type: c.typ, Status: corev1.ConditionFalse, Reason: c.okReason, Message: c.okMessage,
		LastHeartbeatTime: hb, LastTransitionTime: n.readySince}
	if p.on.Load() {
		out.Status, out.Reason, out.Message = corev1.ConditionTrue, c.reason, c.message
	}
	if ns := p.since.Load(); ns != 0 {
		out.LastTransitionTime = metav1.NewTime(time.Unix(0, ns))
	}
	return out
}

// pressureBits is which pressure conditions node n holds, as
// pressureReported records what it last wrote.
func (n *simNode) pressureBits() int8 {
	var b int8
	if n.memory.on.Load() {
		b |= memoryCondition.bit
	}
	if n.disk.on.Load() {
		b |= diskCondition.bit
	}
	return b
}
