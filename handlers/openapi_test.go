package handlers

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"gopkg.in/yaml.v3"

	"github.com/backcare/backcare/api"
)

var fiberParam = regexp.MustCompile(`:([a-z_]+)`)

// TestSpecMatchesRoutes fails when a route is served but not in
// api/openapi.yaml, or the other way round, or when they disagree on
// whether a route needs a token.
func TestSpecMatchesRoutes(t *testing.T) {
	t.Parallel()
	var spec struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", spec.OpenAPI)
	}
	// inSpec is each operation's security scheme: "" for a public one.
	inSpec := map[string]string{}
	for p, ops := range spec.Paths {
		for method, node := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Security *[]map[string]any `yaml:"security"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, p, err)
			}
			key := strings.ToUpper(method) + " " + p
			// Public operations say `security: []`; the rest inherit the
			// patient's bearerAuth or name staffBearer.
			switch {
			case op.Security == nil:
				inSpec[key] = "bearerAuth"
			case len(*op.Security) == 0:
				inSpec[key] = ""
			default:
				for name := range (*op.Security)[0] {
					inSpec[key] = name
				}
			}
		}
	}
	served := map[string]string{}
	for _, r := range routes(Deps{}) {
		scheme := ""
		switch r.policy {
		case policyPatient:
			scheme = "bearerAuth"
		case policyStaff, policyOwner, policyStaffView, policyStaffCare:
			scheme = "staffBearer"
		}
		served[r.method+" "+fiberParam.ReplaceAllString(r.path, "{$1}")] = scheme
	}
	for _, key := range slices.Sorted(maps.Keys(served)) {
		scheme, ok := inSpec[key]
		switch {
		case !ok:
			t.Errorf("%s is served but not in api/openapi.yaml", key)
		case scheme != served[key]:
			t.Errorf("%s: the spec's security is %q, the route's %q", key, scheme, served[key])
		}
	}
	for _, key := range slices.Sorted(maps.Keys(inSpec)) {
		if _, ok := served[key]; !ok {
			t.Errorf("%s is in api/openapi.yaml but not served", key)
		}
	}
}

// TestSpecDeclaresTheRequestIdHeader holds the spec to withRequestLog,
// which reads X-Request-Id on every route: every operation declares it.
func TestSpecDeclaresTheRequestIdHeader(t *testing.T) {
	t.Parallel()
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	var spec struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	declares := func(params []param) bool {
		for _, p := range params {
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				p = spec.Components.Parameters[name]
			}
			if p.In == "header" && strings.EqualFold(p.Name, fiber.HeaderXRequestID) {
				return true
			}
		}
		return false
	}
	for _, path := range slices.Sorted(maps.Keys(spec.Paths)) {
		var shared []param
		if node, ok := spec.Paths[path]["parameters"]; ok {
			if err := (&node).Decode(&shared); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		for _, method := range slices.Sorted(maps.Keys(spec.Paths[path])) {
			if method == "parameters" {
				continue
			}
			var op struct {
				Parameters []param `yaml:"parameters"`
			}
			node := spec.Paths[path][method]
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if !declares(append(slices.Clone(shared), op.Parameters...)) {
				t.Errorf("%s %s does not declare the X-Request-Id header: add $ref: '#/components/parameters/RequestId' to its path's parameters", strings.ToUpper(method), path)
			}
		}
	}
}

// TestEveryRouteHasAPolicy guards function-level authorization: each route
// states who may call it, and the patient routes refuse a missing token.
func TestEveryRouteHasAPolicy(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	f := ts.routeFixture()
	for _, r := range routes(Deps{}) {
		url, _ := f.call(r)
		switch r.policy {
		case policyPublic, policyPublicNoStore:
		case policyPatient:
			// Neither no token nor a staff member's opens a patient's route.
			expectProblem(t, ts.do(r.method, url, "", nil), http.StatusUnauthorized, "")
			expectProblem(t, ts.do(r.method, url, f.clinic.therapist, nil), http.StatusUnauthorized, "")
		case policyStaff, policyOwner, policyStaffView, policyStaffCare:
			// Nor does a patient's token open a clinic route.
			expectProblem(t, ts.do(r.method, url, "", nil), http.StatusUnauthorized, "")
			expectProblem(t, ts.do(r.method, url, f.patient, nil), http.StatusUnauthorized, "")
		default:
			t.Errorf("%s %s has no auth policy", r.method, r.path)
		}
	}
}

// TestEveryRouteRefusesQueryParametersItDoesNotRead sends an unknown query
// parameter to every route of the route table. Every /v1 route refuses it
// with 400, and as the answers are held up against the spec (see
// newTestServer), every /v1 operation must list that 400: a new route
// whose spec forgets it fails here without being named.
func TestEveryRouteRefusesQueryParametersItDoesNotRead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	f := ts.routeFixture()
	for _, r := range routes(Deps{}) {
		url, token := f.call(r)
		url += "?unexpected=1"
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			got := ts.do(r.method, url, token, nil)
			switch {
			case strings.HasPrefix(r.path, "/v1/"):
				expectProblem(t, got, http.StatusBadRequest, "unexpected")
			case got.status == http.StatusBadRequest:
				// Outside /v1 nothing reads the query: the share link is
				// opened from messengers that append their own.
				t.Fatalf("%s refuses a query parameter: %s", r.path, got.body)
			}
		})
	}
}

// TestSpecRequestBodiesAllowNoNull holds the request schemas to what
// decodeBody does: it refuses null at any depth, so no schema a request
// body is read with may allow null, or a client generated from the spec
// would send what the server refuses.
func TestSpecRequestBodiesAllowNoNull(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := yaml.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(node any) (map[string]any, string) {
		m, _ := node.(map[string]any)
		ref, _ := m["$ref"].(string)
		for ref != "" {
			var target any = doc
			for _, key := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				target = target.(map[string]any)[key]
			}
			m, _ = target.(map[string]any)
			next, _ := m["$ref"].(string)
			if next == "" {
				return m, ref
			}
			ref = next
		}
		return m, ""
	}
	seen := map[string]bool{}
	var walk func(where string, node any)
	walk = func(where string, node any) {
		schema, ref := resolve(node)
		if ref != "" {
			if seen[ref] {
				return
			}
			seen[ref] = true
			where = ref
		}
		types := []any{schema["type"]}
		if list, ok := schema["type"].([]any); ok {
			types = list
		}
		enum, _ := schema["enum"].([]any)
		if slices.Contains(types, any("null")) || slices.Contains(enum, nil) || (schema["const"] == nil && hasKey(schema, "const")) {
			t.Errorf("%s allows null, which request bodies may not hold", where)
		}
		for _, key := range []string{"allOf", "oneOf", "anyOf"} {
			subs, _ := schema[key].([]any)
			for i, sub := range subs {
				walk(fmt.Sprintf("%s/%s/%d", where, key, i), sub)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(props)) {
			walk(where+"/properties/"+name, props[name])
		}
		for _, key := range []string{"items", "additionalProperties", "propertyNames"} {
			if sub, ok := schema[key].(map[string]any); ok {
				walk(where+"/"+key, sub)
			}
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	bodies := 0
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[p].(map[string]any)
		for _, method := range slices.Sorted(maps.Keys(item)) {
			op, _ := item[method].(map[string]any)
			body, ok := op["requestBody"]
			if !ok {
				continue
			}
			rb, _ := resolve(body)
			content, _ := rb["content"].(map[string]any)
			media, _ := content["application/json"].(map[string]any)
			if media == nil {
				t.Errorf("%s %s takes a body that is not application/json", method, p)
				continue
			}
			bodies++
			walk(strings.ToUpper(method)+" "+p, media["schema"])
		}
	}
	if bodies < 18 {
		t.Fatalf("found %d request bodies in the spec", bodies)
	}
}

func hasKey(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

// TestEachExportFormatHasItsOwnOperation checks that the per-format export
// routes answer the one media type their operation lists, so that a client
// generated from the spec types each answer right.
func TestEachExportFormatHasItsOwnOperation(t *testing.T) {
	t.Parallel()
	var spec struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	token, _ := ts.register("pat@example.com", "UTC")
	for path, media := range map[string]string{
		"/v1/me/export": "application/json", "/v1/me/export/csv": "text/csv", "/v1/me/export/fhir": "application/fhir+json",
	} {
		r := ts.do("GET", path, token, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), media) {
			t.Errorf("GET %s: %d %s, want %s", path, r.status, r.header.Get("Content-Type"), media)
		}
		if path == "/v1/me/export" {
			continue
		}
		var op struct {
			Responses map[string]struct {
				Content map[string]any `yaml:"content"`
			} `yaml:"responses"`
		}
		node := spec.Paths[path]["get"]
		if err := node.Decode(&op); err != nil {
			t.Fatal(err)
		}
		listed := slices.Collect(maps.Keys(op.Responses["200"].Content))
		if !slices.Equal(listed, []string{media}) {
			t.Errorf("GET %s lists %v for 200, want only %s", path, listed, media)
		}
		expectProblem(t, ts.do("GET", path+"?format=json", token, nil), http.StatusBadRequest, "format")
	}
}

func TestSpecIsServed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.do("GET", "/openapi.yaml", "", nil)
	if r.status != http.StatusOK || string(r.body) != string(api.Spec) {
		t.Fatalf("/openapi.yaml: %d", r.status)
	}
}
