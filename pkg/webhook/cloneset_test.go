package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1alpha1"
	"github.com/myriad-dev/myriad/pkg/inplace"
)

func cloneSetScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return scheme
}

// raw encodes cs as the API server sends it in an AdmissionReview.
func raw(t *testing.T, cs *v1alpha1.CloneSet) runtime.RawExtension {
	t.Helper()
	cs = cs.DeepCopy()
	cs.APIVersion, cs.Kind = v1alpha1.SchemeGroupVersion.String(), "CloneSet"
	data, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: data}
}

func admissionRequest(op admissionv1.Operation, obj, old runtime.RawExtension) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "0c6cb2e1-3f1b-4c55-9a57-2b1f3c1d9e01",
		Kind:      metav1.GroupVersionKind{Group: v1alpha1.GroupName, Version: "v1alpha1", Kind: "CloneSet"},
		Resource:  metav1.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "clonesets"},
		Namespace: "default",
		Name:      "web",
		Operation: op,
		Object:    obj,
		OldObject: old,
	}}
}

func TestCloneSetAdmission(t *testing.T) {
	handler := admission.WithValidator(cloneSetScheme(t), &CloneSetValidator{})
	valid := cloneSet()
	negative := cloneSet()
	negative.Spec.Replicas = ptr.To[int32](-1)
	reselected := cloneSet()
	reselected.Spec.Selector.MatchLabels["tier"] = "front"
	reselected.Spec.Template.Labels["tier"] = "front"
	inPlaceOnly := cloneSet()
	inPlaceOnly.Spec.UpdateStrategy.Type = v1alpha1.InPlaceOnlyCloneSetUpdateStrategyType
	newEnv := inPlaceOnly.DeepCopy()
	newEnv.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "fast"}}
	newImage := inPlaceOnly.DeepCopy()
	newImage.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"

	for _, tc := range []struct {
		name string
		req  admission.Request
		// wantMessage is "" for an allowed request, else part of the denial.
		wantMessage string
		wantCode    int32
		wantFields  []string // the causes a client sees, one per field error
	}{
		{name: "create valid", req: admissionRequest(admissionv1.Create, raw(t, valid), runtime.RawExtension{})},
		{name: "create invalid", req: admissionRequest(admissionv1.Create, raw(t, negative), runtime.RawExtension{}),
			wantMessage: `CloneSet.apps.kruise.io "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
			wantCode:    http.StatusUnprocessableEntity, wantFields: []string{"spec.replicas"}},
		{name: "update valid", req: admissionRequest(admissionv1.Update, raw(t, newImage), raw(t, inPlaceOnly))},
		{name: "update changing selector", req: admissionRequest(admissionv1.Update, raw(t, reselected), raw(t, valid)),
			wantMessage: "spec.selector: Invalid value", wantCode: http.StatusUnprocessableEntity, wantFields: []string{"spec.selector"}},
		{name: "update InPlaceOnly env", req: admissionRequest(admissionv1.Update, raw(t, newEnv), raw(t, inPlaceOnly)),
			wantMessage: "spec.template.spec.containers[0].env: Forbidden: cannot be changed in place",
			wantCode:    http.StatusUnprocessableEntity, wantFields: []string{"spec.template.spec.containers[0].env"}},
		// A delete is allowed whatever the stored object looks like.
		{name: "delete", req: admissionRequest(admissionv1.Delete, runtime.RawExtension{}, raw(t, negative))},
		{name: "undecodable", req: admissionRequest(admissionv1.Create, runtime.RawExtension{Raw: []byte(`{"apiVersion":"apps.kruise.io/v1alpha1","kind":"CloneSet","spec":"x"}`)}, runtime.RawExtension{}),
			wantMessage: "spec", wantCode: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := handler.Handle(context.Background(), tc.req)
			if tc.wantMessage == "" {
				if !resp.Allowed {
					t.Fatalf("denied: %+v", resp.Result)
				}
				return
			}
			if resp.Allowed {
				t.Fatal("allowed, want denied")
			}
			if resp.Result == nil || !strings.Contains(resp.Result.Message, tc.wantMessage) {
				t.Fatalf("result %+v, want message containing %q", resp.Result, tc.wantMessage)
			}
			if resp.Result.Code != tc.wantCode {
				t.Errorf("code %d, want %d", resp.Result.Code, tc.wantCode)
			}
			if tc.wantFields == nil {
				return
			}
			if resp.Result.Reason != metav1.StatusReasonInvalid || resp.Result.Details == nil {
				t.Fatalf("reason %q details %+v, want Invalid with causes", resp.Result.Reason, resp.Result.Details)
			}
			var fields []string
			for _, c := range resp.Result.Details.Causes {
				fields = append(fields, c.Field)
			}
			if strings.Join(fields, ",") != strings.Join(tc.wantFields, ",") {
				t.Errorf("causes name fields %v, want %v", fields, tc.wantFields)
			}
		})
	}
}

// TestRegister serves the manager's webhook mux over HTTP and posts an
// AdmissionReview to ValidateCloneSetPath, as the API server would.
func TestRegister(t *testing.T) {
	ctrllog.SetLogger(logr.Discard())
	newManager := func(scheme *runtime.Scheme) manager.Manager {
		// Never started, so the address is never dialled.
		mgr, err := manager.New(&rest.Config{Host: "https://127.0.0.1:1"}, manager.Options{
			Scheme:  scheme,
			Metrics: metricsserver.Options{BindAddress: "0"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return mgr
	}

	if err := Register(newManager(runtime.NewScheme()), inplace.EligibilityOptions{}, TemplateDefaults{}); err == nil ||
		!strings.Contains(err.Error(), "register CloneSet webhook") {
		t.Errorf("Register with a scheme lacking CloneSet: err = %v, want an error naming the webhook", err)
	}

	mgr := newManager(cloneSetScheme(t))
	if err := Register(mgr, inplace.EligibilityOptions{}, fakeTemplateDefaults); err != nil {
		t.Fatal(err)
	}
	// A second registration (e.g. a restarted setup path) is a no-op.
	if err := Register(mgr, inplace.EligibilityOptions{}, fakeTemplateDefaults); err != nil {
		t.Fatalf("second Register: %v", err)
	}
	srv := httptest.NewServer(mgr.GetWebhookServer().WebhookMux())
	defer srv.Close()

	bad := cloneSet()
	bad.Spec.UpdateStrategy.Type = "Rolling"
	req := admissionRequest(admissionv1.Create, raw(t, bad), runtime.RawExtension{})
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request:  &req.AdmissionRequest,
	}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+ValidateCloneSetPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode response (HTTP %d): %v", resp.StatusCode, err)
	}
	if got.Response == nil || got.Response.UID != review.Request.UID {
		t.Fatalf("response %+v does not answer request %s", got.Response, review.Request.UID)
	}
	if got.Response.Allowed || got.Response.Result == nil ||
		!strings.Contains(got.Response.Result.Message, `spec.updateStrategy.type: Unsupported value: "Rolling"`) {
		t.Fatalf("response %+v, want a denial naming spec.updateStrategy.type", got.Response)
	}

	// The defaulting webhook answers with a JSON patch that fills the
	// strategy, and leaves alone what the user set.
	plain := cloneSet()
	plainReq := admissionRequest(admissionv1.Create, raw(t, plain), runtime.RawExtension{})
	review.Request = &plainReq.AdmissionRequest
	body, err = json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := http.Post(srv.URL+DefaultCloneSetPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	got = admissionv1.AdmissionReview{}
	if err := json.NewDecoder(resp2.Body).Decode(&got); err != nil {
		t.Fatalf("decode response (HTTP %d): %v", resp2.StatusCode, err)
	}
	if got.Response == nil || !got.Response.Allowed || got.Response.PatchType == nil {
		t.Fatalf("defaulting response %+v, want allowed with a patch", got.Response)
	}
	patched := map[string]any{}
	for _, op := range mustPatchOps(t, got.Response.Patch) {
		patched[op.Path] = op.Value
	}
	if v := patched["/spec/updateStrategy/maxUnavailable"]; v != "20%" {
		t.Errorf("patch sets maxUnavailable to %v, want 20%%; patch %s", v, got.Response.Patch)
	}
	if _, ok := patched["/spec/replicas"]; ok {
		t.Errorf("patch changes replicas the user set: %s", got.Response.Patch)
	}
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func mustPatchOps(t *testing.T, patch []byte) []patchOp {
	t.Helper()
	var ops []patchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	return ops
}
