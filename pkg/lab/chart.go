package lab

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// One SVG line chart and one horizontal bar chart, laid out in Go so the
// report template only places numbers: no script, nothing fetched.

// chart is one SVG line chart, laid out in Go so the template only places
// numbers.
type Chart struct {
	Title, Unit      string
	W, H             int
	X0, Y0           float64 // plot area, top-left
	PW, PH           float64 // plot area size
	Right, Bottom    float64
	YLabelX, XLabelY float64
	Lines            []chartLine
	XTicks, YTicks   []tick
	MarkerX          float64     // measurement start; 0 = none
	Marks            []ChartMark // further labelled vertical lines (phase starts)
	MarkerTextX      float64
	MarkerTextY      float64
	Empty            bool
}

// chartMark is a labelled vertical line across the plot.
type ChartMark struct {
	X, TextX, TextY float64
	Label           string
}

type chartLine struct {
	Name, Color, Points      string
	LegendX, LegendY         float64
	LegendTextX, LegendTextY float64
}

type tick struct {
	Pos, LabelPos float64
	Label         string
}

// XY is one point of a line chart.
type XY struct{ X, Y float64 }

// Line is one named series of a chart.
type Line struct {
	Name   string
	Points []XY
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"}

// maxChartPoints keeps a long run's report small: more points than pixels
// add bytes, not information.
const maxChartPoints = 1000

func NewChart(title, unit string, marker float64, ss []Line) Chart {
	c := Chart{Title: title, Unit: unit, W: 960, H: 250, X0: 60, Y0: 10, PW: 700, PH: 200}
	c.Right, c.Bottom = c.X0+c.PW, c.Y0+c.PH
	c.YLabelX, c.XLabelY = c.X0-6, c.Bottom+16
	xmax, ymax := 0.0, 0.0
	have := false
	for _, s := range ss {
		for _, p := range s.Points {
			xmax, ymax, have = max(xmax, p.X), max(ymax, p.Y), true
		}
	}
	xmax = max(xmax, marker)
	if !have {
		c.Empty = true
		return c
	}
	if xmax <= 0 {
		xmax = 1
	}
	ystep := niceStep(ymax / 4)
	ytop := math.Ceil(ymax*1.05/ystep) * ystep
	if ytop <= 0 {
		ytop, ystep = 1, 0.25
	}
	px := func(x float64) float64 { return c.X0 + x/xmax*c.PW }
	py := func(y float64) float64 { return c.Y0 + c.PH - y/ytop*c.PH }
	for y := 0.0; y <= ytop+ystep/2; y += ystep {
		c.YTicks = append(c.YTicks, tick{Pos: r1(py(y)), LabelPos: r1(py(y) + 4), Label: NumH(y)})
	}
	xstep := niceStep(xmax / 6)
	for x := 0.0; x <= xmax+xstep/100; x += xstep {
		c.XTicks = append(c.XTicks, tick{Pos: r1(px(x)), Label: clockH(x)})
	}
	if marker > 0 {
		c.MarkerX, c.MarkerTextX, c.MarkerTextY = r1(px(marker)), r1(px(marker)+4), c.Y0+12
	}
	for i, s := range ss {
		if len(s.Points) == 0 {
			continue
		}
		step := (len(s.Points) + maxChartPoints - 1) / maxChartPoints
		var b strings.Builder
		for j := 0; j < len(s.Points); j += step {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(s.Points[j].X), py(s.Points[j].Y))
		}
		ly := c.Y0 + 4 + 18*float64(len(c.Lines))
		c.Lines = append(c.Lines, chartLine{Name: s.Name, Color: palette[i%len(palette)], Points: strings.TrimSpace(b.String()),
			LegendX: c.Right + 14, LegendY: ly, LegendTextX: c.Right + 28, LegendTextY: ly + 9})
	}
	return c
}

func r1(v float64) float64 { return math.Round(v*10) / 10 }

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func NumH(v float64) string {
	switch {
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func clockH(sec float64) string {
	d := time.Duration(sec) * time.Second
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// PercentileSeries buckets ops by width since t0 and returns the q-quantile
// of each bucket's successful ops, in milliseconds, for a chart.
func PercentileSeries(ops []TimedOp, t0 time.Time, width time.Duration, q float64) []XY {
	buckets := map[int][]float64{}
	for _, op := range ops {
		if op.Err {
			continue
		}
		b := int(op.At.Sub(t0) / width)
		buckets[b] = append(buckets[b], op.Seconds)
	}
	keys := make([]int, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]XY, 0, len(keys))
	for _, k := range keys {
		v := buckets[k]
		sort.Float64s(v)
		out = append(out, XY{(time.Duration(k)*width + width/2).Seconds(), QuantileSorted(v, q) * 1000})
	}
	return out
}

// processCharts are RSS and CPU over time of every sampled process.
func ProcessCharts(t0 time.Time, series map[string][]ProcSample) []Chart {
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	var rss, cpu []Line
	for _, n := range names {
		ss := series[n]
		var rs, cs []XY
		for i, s := range ss {
			t := s.At.Sub(t0).Seconds()
			rs = append(rs, XY{t, float64(s.RSSBytes) / (1 << 20)})
			if i > 0 && ss[i-1].PID == s.PID {
				if dt := s.At.Sub(ss[i-1].At).Seconds(); dt > 0 {
					cs = append(cs, XY{t, (s.CPUSeconds - ss[i-1].CPUSeconds) / dt})
				}
			}
		}
		rss = append(rss, Line{n, rs})
		cpu = append(cpu, Line{n, cs})
	}
	return []Chart{
		NewChart("Resident memory (RSS)", "MiB", 0, rss),
		NewChart("CPU used", "cores", 0, cpu),
	}
}

// MarkAt draws a dashed vertical line labelled label at x (in the units
// of the points) across c, which NewChart made from ss; a mark outside
// the points' range is left out.
func (c *Chart) MarkAt(ss []Line, x float64, label string) {
	if c.Empty {
		return
	}
	// NewChart scales x to the largest x of any point.
	xmax := 0.0
	for _, s := range ss {
		for _, p := range s.Points {
			xmax = max(xmax, p.X)
		}
	}
	if x <= 0 || x > xmax {
		return
	}
	px := r1(c.X0 + x/xmax*c.PW)
	c.Marks = append(c.Marks, ChartMark{X: px, TextX: px + 3, TextY: c.Bottom - 4, Label: label})
}

// relabelX replaces a chart's time labels on the x axis (newChart writes
// m:ss) with label(x), for charts whose x is not time.
func RelabelX(c *Chart, ss []Line, label func(float64) string) {
	xmax := 0.0
	for _, s := range ss {
		for _, p := range s.Points {
			xmax = max(xmax, p.X)
		}
	}
	if xmax <= 0 {
		return
	}
	// newChart puts a tick every niceStep(xmax/6) from 0.
	step := niceStep(xmax / 6)
	for i := range c.XTicks {
		c.XTicks[i].Label = label(float64(i) * step)
	}
}

// barChart is a horizontal bar chart laid out in Go.
type BarChart struct {
	Title, Unit string
	W, H        int
	LabelX      float64 // right edge of the labels
	Bars        []bar
	Empty       bool
}

type bar struct {
	Label, Value, Color string
	Y, TextY, X, Width  float64
	ValueX              float64
}

// BarInput is one bar: Value nil draws "not measured"; Color "" takes
// the palette's color for the bar's position.
type BarInput struct {
	Label string
	Value *float64
	Color string
	Text  string
}

func NewBarChart(title, unit string, in []BarInput) BarChart {
	const rowH, x0, plotW = 26.0, 250.0, 560.0
	c := BarChart{Title: title, Unit: unit, W: 960, LabelX: x0 - 8}
	top := 0.0
	for _, b := range in {
		if b.Value != nil {
			top = max(top, *b.Value)
		}
	}
	if top <= 0 {
		c.Empty = true
		return c
	}
	for i, b := range in {
		y := 6 + float64(i)*rowH
		color := b.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		br := bar{Label: b.Label, Color: color, Y: y, TextY: y + 14, X: x0}
		if b.Value == nil {
			br.Value = "not measured"
			br.ValueX = x0 + 4
		} else {
			br.Width = r1(*b.Value / top * plotW)
			br.Value = b.Text
			br.ValueX = x0 + br.Width + 6
		}
		c.Bars = append(c.Bars, br)
	}
	c.H = int(12 + float64(len(in))*rowH)
	return c
}
