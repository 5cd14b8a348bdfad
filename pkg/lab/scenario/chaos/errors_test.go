package chaos

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorTallyGroupsOneCause(t *testing.T) {
	var e errorTally
	for i := range 3 {
		e.add(fmt.Errorf("Put \"https://127.0.0.1:%d/api/v1/namespaces/x/configmaps/seq-%02d\": EOF", 40000+i, i))
	}
	e.add(errors.New("etcdserver: request timed out"))
	e.add(nil)
	got := e.top()
	if len(got) != 2 || got[0].Count != 3 || got[0].Error != `Put "https://N.N.N.N:N/api/vN/namespaces/x/configmaps/seq-N": EOF` || got[1].Count != 1 {
		t.Fatalf("top = %+v", got)
	}
	for i := range maxKinds + 5 {
		e.add(fmt.Errorf("kind %c", 'a'+i))
	}
	if n := len(e.top()); n != maxKinds+1 {
		t.Fatalf("%d kinds kept, want %d and other", n, maxKinds+1)
	}
}
