// Package lab owns measurement and reports for Myriad's scale experiments
// (`myriad bench`): it samples processes from /proc, scrapes Prometheus
// endpoints, watches node readiness, judges a run against its pass criteria,
// and writes result.json plus a self-contained report.html.
//
// It must never change the cluster it measures, except for what a scenario
// declares it does (a soak declares nothing: it only reads). Measurement is
// read-only and cheap: one shared node informer, /proc reads every few
// seconds, one metrics scrape per component per interval. Time comes from an
// injected clock so every calculation can be tested without a cluster.
package lab
