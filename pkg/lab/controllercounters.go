package lab

// ControllerCounters reads a Myriad workload controller's own counters
// from the manager's metrics: its pod writes by operation
// (<prefix>_pod_operations_total, "pod create", "pod delete (error)"),
// its reconciles (controller-runtime's, by controller name) and its
// expectation waits (<prefix>_expectation_waits_total).
func ControllerCounters(prefix, controller string) func(Families) map[string]float64 {
	return func(f Families) map[string]float64 {
		out := map[string]float64{}
		for _, m := range f[prefix+"_pod_operations_total"].GetMetric() {
			var op, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "operation":
					op = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			key := "pod " + op
			if result != "ok" {
				key += " (" + result + ")"
			}
			out[key] += m.GetCounter().GetValue()
		}
		if v, ok := f.Value("controller_runtime_reconcile_total", map[string]string{"controller": controller}); ok {
			out["reconciles"] = v
		}
		if v, ok := f.Value(prefix+"_expectation_waits_total", nil); ok {
			out["expectation waits"] = v
		}
		return out
	}
}
