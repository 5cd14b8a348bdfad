package kubeletapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Identity is what the port-forward stub answers on every port of a pod:
// enough for a client (or a test) to tell which pod it reached.
type Identity struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Node      string `json:"node"`
	PodIP     string `json:"podIP"`
	Port      int32  `json:"port"`
}

// portForward is /portForward/{namespace}/{pod}[/{uid}]: the upstream
// streaming server multiplexes the forwarded connections; each one reaches
// an HTTP stub in this process, never the pod's IP.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod := s.pod(w, r)
	if pod == nil {
		return
	}
	var opts *portforward.V4Options
	if wsstream.IsWebSocketRequest(r) {
		var err error
		if opts, err = portforward.NewV4Options(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	} else {
		opts = &portforward.V4Options{}
	}
	portforward.ServePortForward(w, r, &podStub{pod: pod}, pod.Namespace+"/"+pod.Name, string(pod.UID), opts,
		s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, portforward.SupportedProtocols)
}

// podStub answers HTTP on any port of one pod.
type podStub struct{ pod *corev1.Pod }

// PortForward serves HTTP/1.1 requests on stream until the client closes
// it: each is answered 200 with the pod's Identity as JSON, whatever the
// path, so Services, probes and clients can be exercised end to end.
func (p *podStub) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	body, err := json.Marshal(Identity{Namespace: p.pod.Namespace, Pod: p.pod.Name, Node: p.pod.Spec.NodeName, PodIP: p.pod.Status.PodIP, Port: port})
	if err != nil {
		return err
	}
	body = append(body, '\n')
	br := bufio.NewReader(stream)
	for ctx.Err() == nil {
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil // the client closed the connection, or spoke no HTTP
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
		closing := req.Close || strings.EqualFold(req.Header.Get("Connection"), "close")
		resp := &http.Response{
			StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1, Request: req,
			Header:        http.Header{"Content-Type": {"application/json"}, "X-Myriad-Pod": {p.pod.Namespace + "/" + p.pod.Name}},
			ContentLength: int64(len(body)), Close: closing,
		}
		if req.Method != http.MethodHead {
			resp.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		if err := resp.Write(stream); err != nil {
			return fmt.Errorf("port-forward to %s/%s port %d: %w", p.pod.Namespace, p.pod.Name, port, err)
		}
		if closing {
			return nil
		}
	}
	return nil
}
