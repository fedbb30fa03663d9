package main

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// operatorPayloads are values a store that built filters from requests
// would read as MongoDB operators.
var operatorPayloads = map[string]any{
	"$ne":    map[string]any{"$ne": nil},
	"$gt":    map[string]any{"$gt": ""},
	"$regex": map[string]any{"$regex": ".*"},
	"$where": map[string]any{"$where": "1"},
	"$expr":  map[string]any{"$expr": map[string]any{"$eq": []any{"$patient_id", "$patient_id"}}},
}

// probe is one query string and the field its problem must name.
type probe struct{ query, field string }

// queryProbes are the string forms of the operator payloads for one query
// parameter, as a form parser that builds nested maps would read them.
func queryProbes(param string) []probe {
	esc := url.QueryEscape
	return []probe{
		{esc(param+"[$gt]") + "=", param + "[$gt]"},
		{esc(param+"[$ne]") + "=1", param + "[$ne]"},
		{esc(param+"[$regex]") + "=.*", param + "[$regex]"},
		{esc(param+".$ne") + "=1", param + ".$ne"},
		{param + "=" + esc(`{"$gt":""}`), param},
		{param + "=" + esc(`{"$ne":null}`), param},
	}
}

// routeProbes are query probes that name no parameter of the route.
var routeProbes = []probe{
	{url.QueryEscape("$where") + "=" + url.QueryEscape("sleep(1000)"), "$where"},
	{url.QueryEscape("$or[0][patient_id][$ne]") + "=x", "$or[0][patient_id][$ne]"},
	{url.QueryEscape("patient_id") + "=" + url.QueryEscape(`{"$ne":null}`), "patient_id"},
}

// pathProbes stand in for an id in a path. An id is only ever compared
// whole with the patient's own, so these answer 400 where the route checks
// the id's shape (a pain log's client UUID) or 404 where it looks it up.
var pathProbes = []string{url.PathEscape(`{"$ne":null}`), url.PathEscape("$ne"), url.PathEscape(".*"), url.PathEscape("$where"), url.PathEscape("a.b")}

// placed returns a body holding v at the field: objects are made on the
// way down, and an array item becomes a one-element array.
func placed(f fieldPath, v any) map[string]any {
	body := map[string]any{}
	m := body
	for _, k := range f.keys[:len(f.keys)-1] {
		next := map[string]any{}
		m[k] = next
		m = next
	}
	if f.item {
		v = []any{v}
	}
	m[f.keys[len(f.keys)-1]] = v
	return body
}

// TestInjectionCorpus sends MongoDB operator payloads in every field of
// every request body the spec describes (nested objects and array items
// included), in every query parameter, and in place of every path id.
// Each is refused — 400 naming the field, or 404 for an id that matches
// nothing — shows nothing of another patient's, and stores nothing.
func TestInjectionCorpus(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	p, other := s.signUp(t, "Probe"), s.signUp(t, "Bystander")
	ids := map[string]string{}
	for _, op := range spec.ops {
		if own, ok := ownedResources[op.path]; ok && ids[op.path] == "" {
			ids[op.path] = own(t, s, p).id
		}
	}
	for _, path := range []string{"/v1/pain-logs/{id}", "/v1/sessions/{id}"} {
		ownedResources[path](t, s, other)
	}
	before, otherBefore := s.snapshot(t, p), s.snapshot(t, other)
	// corpus are the answers to the probes, not to the set-up they need.
	var corpus []answer
	bodies, queries, paths := 0, 0, 0

	for _, op := range spec.ops {
		if op.body == nil {
			continue
		}
		target := fillPath(op.path, ids[op.path])
		check := func(name string, body any, field string) {
			t.Helper()
			bodies++
			t.Run(op.String()+" "+name, func(t *testing.T) {
				token := s.tokenFor(t, op, p)
				a := s.send(op.method, target, token, body)
				corpus = append(corpus, a)
				expectInvalid(t, a, field)
			})
		}
		for _, f := range spec.fields(op.body, nil) {
			for _, name := range slices.Sorted(maps.Keys(operatorPayloads)) {
				where := f.name()
				if f.item {
					where += "[]"
				}
				check(where+" "+name, placed(f, operatorPayloads[name]), f.name())
			}
			if !f.item {
				check(f.name()+" dotted key", placed(f, map[string]any{"a.b": 1}), f.name())
			}
		}
		check("top-level $or", map[string]any{"$or": []any{map[string]any{"patient_id": other.id}, map[string]any{}}}, "$or")
		check("top-level $where", map[string]any{"$where": "1"}, "$where")
		check("dotted top-level key", map[string]any{"profile.name": "x"}, "profile.name")
		check("operator key after valid fields", `{"a":1,"$set":{"patient_id":"x"}}`, "$set")
	}

	for _, op := range spec.ops {
		if op.method != "GET" || len(op.query) == 0 {
			continue
		}
		var probes []probe
		for _, param := range op.query {
			probes = append(probes, queryProbes(param)...)
		}
		for _, pr := range append(probes, routeProbes...) {
			queries++
			t.Run(op.String()+"?"+pr.query, func(t *testing.T) {
				a := s.send(op.method, fillPath(op.path, ids[op.path])+"?"+pr.query, s.tokenFor(t, op, p), nil)
				corpus = append(corpus, a)
				expectInvalid(t, a, pr.field)
			})
		}
	}

	for _, op := range spec.ops {
		if len(op.pathParams) == 0 {
			continue
		}
		body := validBodies(p)[op.String()]
		for _, id := range pathProbes {
			paths++
			t.Run(op.String()+" with id "+id, func(t *testing.T) {
				token := s.tokenFor(t, op, p)
				a := s.send(op.method, specParam.ReplaceAllLiteralString(op.path, id), token, body)
				corpus = append(corpus, a)
				expect(t, a, http.StatusBadRequest, http.StatusNotFound)
			})
		}
	}

	for _, a := range corpus {
		if a.status < 300 {
			t.Errorf("an injection was answered as a success: %v", a)
		}
		if strings.Contains(a.raw, other.marker) || strings.Contains(a.raw, other.id) {
			t.Errorf("an injection showed another patient's data: %v", a)
		}
	}
	if after := s.snapshot(t, p); after != before {
		t.Errorf("the corpus changed the patient's data:\nbefore %s\nafter  %s", before, after)
	}
	if after := s.snapshot(t, other); after != otherBefore {
		t.Errorf("the corpus changed another patient's data:\nbefore %s\nafter  %s", otherBefore, after)
	}
	s.sparesHoldNoDevice(t)
	t.Logf("%d cases: %d in bodies, %d in query strings, %d in path ids", bodies+queries+paths, bodies, queries, paths)
}
