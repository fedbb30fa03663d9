// Command bench measures BackCare side by side in one run: dispatch, the
// send stage, the phone-app API, the clinic's triage list and the database
// cost. `make bench` runs it.
//
// Each scenario runs in a child process of this binary (`bench -scenario
// <name> -out <file>`), one after another, so that its peak resident memory
// and CPU time are its own and no two scenarios compete for the machine. The
// parent prints one table and writes it as JSON under .bench/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// row is one line of the bench table.
type row struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Target   string  `json:"target,omitempty"` // e.g. ">= 10000", "<= 0.02"
	Met      *bool   `json:"met,omitempty"`
}

// benchEnv is what every scenario gets.
type benchEnv struct {
	MongoURI string // "" means: start an embedded engine (store/embedded) in Dir
	Dir      string // a scratch directory for this scenario, removed afterwards
	Quick    bool   // smaller sizes for a smoke run
}

type scenario struct {
	name string
	run  func(ctx context.Context, env benchEnv) ([]row, error)
}

// scenarios in the order they run; init functions run in file-name order,
// so the order is the same on every run.
var scenarios []scenario

// register adds a scenario; called from init() in each scenario file.
func register(name string, run func(ctx context.Context, env benchEnv) ([]row, error)) {
	if slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }) {
		panic("bench: scenario registered twice: " + name)
	}
	scenarios = append(scenarios, scenario{name: name, run: run})
}

// scenarioTimeout bounds one scenario, so a stuck one cannot hold the run.
const scenarioTimeout = 15 * time.Minute

// resultsDir is git-ignored.
const resultsDir = ".bench"

// report is what the JSON files hold.
type report struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Command  string    `json:"command"`
	Engine   string    `json:"engine"`
	Quick    bool      `json:"quick"`
	GoOS     string    `json:"goos"`
	GoArch   string    `json:"goarch"`
	CPUs     int       `json:"cpus"`
	Go       string    `json:"go"`
	Rows     []row     `json:"rows"`
	Failures []string  `json:"failures,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	only := flags.String("only", "", "run only these scenarios (comma-separated)")
	quick := flags.Bool("quick", false, "small sizes, for a smoke run")
	profile := flags.Bool("cpuprofile", false, "write a CPU profile of each scenario to .bench/cpu-<scenario>.prof")
	child := flags.String("scenario", "", "run one scenario in this process (used by the runner)")
	out := flags.String("out", "", "with -scenario: the file the rows are written to")
	fakeFCM := flags.Bool("fcmfake", false, "serve an FCM fake until stdin closes (used by the scenarios)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *fakeFCM {
		return runFakeFCM(os.Stdin, stdout)
	}
	env := benchEnv{MongoURI: os.Getenv("MONGODB_URI"), Quick: *quick}
	if *child != "" {
		return runChild(ctx, *child, *out, env, *profile)
	}
	selected, err := selectScenarios(*only)
	if err != nil {
		return err
	}
	return runAll(ctx, selected, env, *profile, args, stdout)
}

func selectScenarios(only string) ([]scenario, error) {
	if only == "" {
		return scenarios, nil
	}
	var selected []scenario
	for name := range strings.SplitSeq(only, ",") {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(scenarioNames(), ", "))
		}
		selected = append(selected, scenarios[i])
	}
	return selected, nil
}

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// runChild runs one scenario in this process and writes its rows to out.
func runChild(ctx context.Context, name, out string, env benchEnv, profile bool) (err error) {
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
	if i < 0 {
		return fmt.Errorf("unknown scenario %q", name)
	}
	dir, err := os.MkdirTemp("", "backcare-bench-"+name+"-*")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	env.Dir = dir
	if profile {
		f, err := os.Create(filepath.Join(resultsDir, "cpu-"+name+".prof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()
	rows, err := scenarios[i].run(ctx, env)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Scenario = name
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o600)
}

// runAll runs each scenario in a child process, prints the table and
// writes the JSON files. A failed scenario is reported and the rest still run.
func runAll(ctx context.Context, selected []scenario, env benchEnv, profile bool, args []string, stdout io.Writer) error {
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep := report{
		Started: time.Now().UTC(), Command: "go run ./cmd/bench " + strings.Join(args, " "),
		Engine: "embedded (FerretDB 1.24 on SQLite)", Quick: env.Quick,
		GoOS: runtime.GOOS, GoArch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(),
	}
	if env.MongoURI != "" {
		rep.Engine = "MongoDB (MONGODB_URI)"
	}
	dir, err := filepath.Abs(resultsDir)
	if err != nil {
		return err
	}
	bin, err := buildServer(ctx, dir)
	if err != nil {
		return err
	}
	// The scenario processes inherit it.
	if err := os.Setenv(serverBinEnv, bin); err != nil {
		return err
	}
	for _, s := range selected {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stdout, "running %s ...\n", s.name)
		rows, err := runInChild(ctx, self, s.name, env, profile)
		if err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %v", s.name, err))
			fmt.Fprintf(stdout, "  FAILED: %v\n", err)
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	printTable(stdout, rep)
	if err := writeReport(rep); err != nil {
		return err
	}
	if len(rep.Failures) > 0 {
		return fmt.Errorf("%d scenario(s) failed", len(rep.Failures))
	}
	return ctx.Err()
}

// runInChild runs one scenario as `self -scenario name` and adds the child's
// own peak RSS and CPU time to its rows.
func runInChild(ctx context.Context, self, name string, env benchEnv, profile bool) ([]row, error) {
	out, err := os.CreateTemp("", "backcare-bench-rows-*.json")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	args := []string{"-scenario", name, "-out", out.Name()}
	if env.Quick {
		args = append(args, "-quick")
	}
	if profile {
		args = append(args, "-cpuprofile")
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	var rows []row
	if runErr == nil {
		b, err := os.ReadFile(out.Name())
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, fmt.Errorf("rows of %s: %w", name, err)
		}
	}
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
		rows = append(rows,
			row{Scenario: name, Metric: "scenario process peak RSS (or its largest child's)", Value: round(float64(usage.Maxrss)/1024, 1), Unit: "MB"},
			row{Scenario: name, Metric: "scenario process CPU (with its children)", Value: round(cpu.Seconds(), 2), Unit: "s"},
		)
	}
	rows = append(rows, row{Scenario: name, Metric: "wall time (incl. seeding)", Value: round(wall.Seconds(), 1), Unit: "s"})
	return rows, runErr
}

func printTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "\nBackCare bench, %s, %s, %d CPUs, %s, %.0f s\n\n", rep.Started.Format(time.RFC3339), rep.Engine, rep.CPUs, rep.Go, rep.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmetric\tvalue\tunit\ttarget\tmet\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Metric, formatValue(r.Value), r.Unit, r.Target, metText(r.Met))
	}
	tw.Flush()
	for _, f := range rep.Failures {
		fmt.Fprintln(w, "FAILED:", f)
	}
}

func metText(met *bool) string {
	switch {
	case met == nil:
		return ""
	case *met:
		return "yes"
	default:
		return "NO"
	}
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func writeReport(rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	name := filepath.Join(resultsDir, "results-"+rep.Started.Format("20060102T150405Z")+".json")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(resultsDir, "latest.json"), b, 0o644)
}
