package chaos

import "testing"

func TestKindOfNamesOnlyWhatMayBeHit(t *testing.T) {
	for process, want := range map[string]string{
		"etcd": "etcd", "etcd-2": "etcd", "kube-apiserver": "kube-apiserver", "kube-apiserver-1": "kube-apiserver",
		"kube-controller-manager-0": "kube-controller-manager", "myriad-scheduler-1": "myriad-scheduler",
		"myriad-manager": "myriad-manager", "nodes": "nodes",
		"myriad-storage": "", "metrics-server": "", "tenant-a-kube-apiserver": "",
	} {
		if got := KindOf(process); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", process, got, want)
		}
	}
}

func TestEtcdProcessOfAMember(t *testing.T) {
	for _, c := range []struct {
		member  string
		members int
		want    string
	}{{"myriad", 1, "etcd"}, {"myriad", 3, "etcd-0"}, {"myriad-2", 3, "etcd-2"}} {
		if got := etcdProcess(c.member, c.members); got != c.want {
			t.Errorf("etcdProcess(%q, %d) = %q, want %q", c.member, c.members, got, c.want)
		}
	}
}
