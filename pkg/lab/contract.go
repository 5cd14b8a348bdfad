package lab

import (
	"context"

	"k8s.io/utils/clock"
)

// Scenario is one experiment of `myriad bench`. See the package doc for
// the contract.
type Scenario interface {
	// Name is the scenario's name: `myriad bench NAME` and result.json's
	// "scenario".
	Name() string
	// Run drives the experiment and returns its Result, also when it
	// stopped early.
	Run(ctx context.Context, env Env) Result
}

// Env is what every scenario runs with.
type Env struct {
	// Clock is the only source of time a scenario reads.
	Clock clock.WithTicker
	// Console takes the progress line and messages for the user.
	Console *Console
}

// Result is a finished or stopped run.
type Result interface {
	// Head is the run's header, verdict included.
	Head() *RunInfo
	// Rows are the summary the command prints; the first column names
	// each row.
	Rows() [][]string
	// Page is the report page; Write adds the process charts.
	Page() *Page
}

// ScenarioFunc adapts a function to Scenario.
type ScenarioFunc struct {
	ScenarioName string
	Func         func(ctx context.Context, env Env) Result
}

func (f ScenarioFunc) Name() string                            { return f.ScenarioName }
func (f ScenarioFunc) Run(ctx context.Context, env Env) Result { return f.Func(ctx, env) }

var _ Scenario = ScenarioFunc{}

// Run runs s with the machine's load sampled alongside, then stamps the
// load figures on the result's head and marks a busy machine.
func Run(ctx context.Context, s Scenario, env Env) Result {
	load := &LoadSampler{Clock: env.Clock}
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); load.Run(lctx) }()
	r := s.Run(ctx, env)
	stop()
	<-done
	r.Head().SetLoad(load.Points())
	return r
}
