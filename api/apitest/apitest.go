// Package apitest holds what the spec says each operation may answer up
// against what the server really answered, for the tests of the packages
// that serve the API.
//
// What the server answered is read from its own request counter,
// backcare_http_requests_total{route,method,status}: every answer the
// app produces passes through it, whatever test, table or fuzz case
// caused it. A test that ends by checking that counter therefore turns
// every request it made into a check of the spec's response list, and a
// new route, a new refusal or a new middleware whose status the spec does
// not list fails the tests that reach it, with nothing to keep in step by
// hand.
//
// A counter only sees what the tests exercise. What every route can answer
// by construction (a patient route's 401, a /v1 route's 400 for a query
// parameter it does not read) is exercised for each route in the route
// table by the handlers' own tests, so that it is counted too.
package apitest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/backcare/backcare/api"
)

// requestsMetric is the counter the server keeps of its answers.
const requestsMetric = "backcare_http_requests_total"

// Answered is how often one route answered one status to one method.
type Answered struct {
	Method string // GET
	Route  string // the route as the server names it: /v1/pain-logs/:id
	Status int
	Count  float64
}

var (
	specOnce      sync.Once
	specResponses map[string][]string
	specErr       error
)

// Responses returns, for every operation of api/openapi.yaml keyed as
// "GET /v1/pain-logs/{id}", the response keys it lists: statuses such as
// "404", ranges such as "4XX", or "default".
func Responses() (map[string][]string, error) {
	specOnce.Do(func() {
		var spec struct {
			Paths map[string]map[string]yaml.Node `yaml:"paths"`
		}
		if specErr = yaml.Unmarshal(api.Spec, &spec); specErr != nil {
			return
		}
		specResponses = map[string][]string{}
		for path, item := range spec.Paths {
			for method, node := range item {
				if !isMethod(method) {
					continue
				}
				var op struct {
					Responses map[string]yaml.Node `yaml:"responses"`
				}
				if err := node.Decode(&op); err != nil {
					specErr = fmt.Errorf("%s %s: %w", method, path, err)
					return
				}
				specResponses[strings.ToUpper(method)+" "+path] = slices.Sorted(maps.Keys(op.Responses))
			}
		}
	})
	return specResponses, specErr
}

func isMethod(key string) bool {
	switch key {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

// lists reports whether a response list covers status.
func lists(keys []string, status int) bool {
	code := strconv.Itoa(status)
	for _, k := range keys {
		if k == code || k == "default" || (len(k) == 3 && k[0] == code[0] && strings.ToUpper(k[1:]) == "XX") {
			return true
		}
	}
	return false
}

var routeParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// Operation is the spec's key for a route the server names with Fiber's
// :param syntax.
func Operation(method, route string) string {
	return strings.ToUpper(method) + " " + routeParam.ReplaceAllString(route, "{$1}")
}

// Unlisted returns a line for every answer whose status the spec does not
// list for its operation. Answers on routes that are not operations of the
// spec are skipped: a path that matched no route, or a method a path is
// not served with, is named after the middleware that answered it ("/");
// whether every served route is in the spec is the handlers'
// TestSpecMatchesRoutes.
func Unlisted(answered []Answered) ([]string, error) {
	ops, err := Responses()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range answered {
		op := Operation(a.Method, a.Route)
		keys, ok := ops[op]
		if !ok || lists(keys, a.Status) {
			continue
		}
		out = append(out, fmt.Sprintf("%s answered %d (%s), which api/openapi.yaml does not list for it (it lists %s)",
			op, a.Status, times(a.Count), strings.Join(keys, ", ")))
	}
	slices.Sort(out)
	return out, nil
}

func times(n float64) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%g times", n)
}

// Check fails t for every answer whose status the spec does not list.
func Check(t testing.TB, answered []Answered) {
	t.Helper()
	lines, err := Unlisted(answered)
	if err != nil {
		t.Fatalf("read api/openapi.yaml: %v", err)
	}
	for _, l := range lines {
		t.Errorf("%s: add the status to the operation's responses, or stop answering it", l)
	}
}

// FromGatherer reads the answers a server counted in a registry.
func FromGatherer(g prometheus.Gatherer) ([]Answered, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	var out []Answered
	for _, f := range families {
		if f.GetName() != requestsMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			a := Answered{Count: m.GetCounter().GetValue()}
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					a.Method = l.GetValue()
				case "route":
					a.Route = l.GetValue()
				case "status":
					a.Status, _ = strconv.Atoi(l.GetValue())
				}
			}
			out = append(out, a)
		}
	}
	return out, nil
}

var (
	sampleLine = regexp.MustCompile(`^` + requestsMetric + `\{([^}]*)\} (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
)

// FromText reads the answers a server counted from its /metrics page, in
// the Prometheus text format.
func FromText(text string) []Answered {
	var out []Answered
	for _, line := range strings.Split(text, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := Answered{}
		a.Count, _ = strconv.ParseFloat(m[2], 64)
		for _, l := range labelPair.FindAllStringSubmatch(m[1], -1) {
			switch l[1] {
			case "method":
				a.Method = l[2]
			case "route":
				a.Route = l[2]
			case "status":
				a.Status, _ = strconv.Atoi(l[2])
			}
		}
		out = append(out, a)
	}
	return out
}
