package advancedcronjob

import (
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/myriad-dev/myriad/pkg/apis/apps/v1beta1"
)

// scheduledTime reads the schedule time a child was created for: the
// annotation, or the name's suffix for a job whose annotation was removed.
func scheduledTime(obj client.Object) time.Time {
	if v, ok := obj.GetAnnotations()[v1beta1.ScheduledTimeAnnotation]; ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	name := obj.GetName()
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if secs, err := strconv.ParseInt(name[i+1:], 10, 64); err == nil {
			return time.Unix(secs, 0)
		}
	}
	return obj.GetCreationTimestamp().Time
}

func jobChild(j *batchv1.Job) Child {
	c := Child{Kind: "Job", Name: j.Name, UID: j.UID, Scheduled: scheduledTime(j), Deleting: j.DeletionTimestamp != nil}
	for _, cond := range j.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobComplete:
			c.Finished = true
		case batchv1.JobFailed:
			c.Finished, c.Failed = true, true
		}
	}
	return c
}

func broadcastJobChild(j *v1beta1.BroadcastJob) Child {
	c := Child{Kind: "BroadcastJob", Name: j.Name, UID: j.UID, Scheduled: scheduledTime(j), Deleting: j.DeletionTimestamp != nil}
	for _, cond := range j.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case v1beta1.JobComplete:
			c.Finished = true
		case v1beta1.JobFailed:
			c.Finished, c.Failed = true, true
		}
	}
	return c
}

// childMeta is the metadata of the job for schedule time t: the template's
// labels and annotations, the schedule-time annotation and the controller
// reference.
func childMeta(acj *v1beta1.AdvancedCronJob, tmpl metav1.ObjectMeta, t time.Time) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: ChildName(acj.Name, t), Namespace: acj.Namespace,
		Labels: map[string]string{}, Annotations: map[string]string{}}
	for k, v := range tmpl.Labels {
		m.Labels[k] = v
	}
	for k, v := range tmpl.Annotations {
		m.Annotations[k] = v
	}
	m.Annotations[v1beta1.ScheduledTimeAnnotation] = t.UTC().Format(time.RFC3339)
	m.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(acj, v1beta1.SchemeGroupVersion.WithKind("AdvancedCronJob"))}
	return m
}

// NewChild is the Job or BroadcastJob for schedule time t, or nil when the
// template holds neither.
func NewChild(acj *v1beta1.AdvancedCronJob, t time.Time) client.Object {
	switch tmpl := acj.Spec.Template; {
	case tmpl.BroadcastJobTemplate != nil:
		return &v1beta1.BroadcastJob{ObjectMeta: childMeta(acj, tmpl.BroadcastJobTemplate.ObjectMeta, t),
			Spec: *tmpl.BroadcastJobTemplate.Spec.DeepCopy()}
	case tmpl.JobTemplate != nil:
		return &batchv1.Job{ObjectMeta: childMeta(acj, tmpl.JobTemplate.ObjectMeta, t),
			Spec: *tmpl.JobTemplate.Spec.DeepCopy()}
	}
	return nil
}
