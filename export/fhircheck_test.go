package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file is a small FHIR R4 checker for the bundles FHIRBundle writes:
// the rules a receiving system would reject or misfile them for, checked
// without a network or an external validator. Patterns are the R4
// primitive types' regular expressions; value sets are the required
// bindings of the elements.

var (
	reInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	reDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reID       = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	reCode     = regexp.MustCompile(`^[^\s]+( [^\s]+)*$`)
	reURNUUID  = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

var (
	observationStatuses  = []string{"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
	appointmentStatusSet = []string{"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error", "checked-in", "waitlist"}
	participantStatuses  = []string{"accepted", "declined", "tentative", "needs-action"}
	carePlanStatusSet    = []string{"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
	carePlanIntents      = []string{"proposal", "plan", "order", "option"}
	activityStatusSet    = []string{"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown", "entered-in-error"}
	activityKinds        = []string{"Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest", "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription"}
	timingUnits          = []string{"s", "min", "h", "d", "wk", "mo", "a"}
)

// r4Checker collects every violation rather than stopping at the first.
type r4Checker struct {
	problems []string
	// kinds maps each entry's fullUrl to its resourceType.
	kinds map[string]string
}

func (c *r4Checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

// decodeFHIR decodes JSON keeping numbers as json.Number, so that an integer
// is told apart from a decimal.
func decodeFHIR(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// checkR4Bundle returns the decoded bundle and every rule it breaks.
func checkR4Bundle(data []byte) (map[string]any, []string) {
	doc, err := decodeFHIR(data)
	if err != nil {
		return nil, []string{"not JSON: " + err.Error()}
	}
	c := &r4Checker{kinds: map[string]string{}}
	c.walk("Bundle", doc)
	c.wantValue("Bundle.resourceType", doc["resourceType"], "Bundle")
	c.wantValue("Bundle.type", doc["type"], "collection")
	c.instant("Bundle.timestamp", doc["timestamp"])
	if _, ok := doc["total"]; ok {
		c.fail("Bundle.total", "only allowed in a searchset or history (bdl-1)")
	}
	entries, _ := doc["entry"].([]any)
	if len(entries) == 0 {
		c.fail("Bundle.entry", "is empty")
	}
	var resources []map[string]any
	var paths []string
	for i, e := range entries {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		entry, _ := e.(map[string]any)
		fullURL, _ := entry["fullUrl"].(string)
		if !reURNUUID.MatchString(fullURL) {
			c.fail(path+".fullUrl", "%q is not a urn:uuid", fullURL)
		}
		if _, dup := c.kinds[fullURL]; dup {
			c.fail(path+".fullUrl", "%q is used twice", fullURL)
		}
		res, _ := entry["resource"].(map[string]any)
		kind, _ := res["resourceType"].(string)
		if kind == "" {
			c.fail(path+".resource.resourceType", "is missing")
		}
		c.kinds[fullURL] = kind
		if id, ok := res["id"].(string); ok {
			if !reID.MatchString(id) {
				c.fail(path+".resource.id", "%q is not a FHIR id", id)
			}
			if "urn:uuid:"+id != fullURL {
				c.fail(path+".resource.id", "%q disagrees with fullUrl %q", id, fullURL)
			}
		}
		resources = append(resources, res)
		paths = append(paths, path+".resource")
	}
	patients := 0
	for i, res := range resources {
		switch kind := res["resourceType"]; kind {
		case "Patient":
			patients++
		case "Observation":
			c.observation(paths[i], res)
		case "Appointment":
			c.appointment(paths[i], res)
		case "CarePlan":
			c.carePlan(paths[i], res)
		default:
			c.fail(paths[i], "unexpected resourceType %v", kind)
		}
	}
	if patients != 1 {
		c.fail("Bundle.entry", "has %d Patient resources, want 1", patients)
	}
	c.references("Bundle", doc)
	return doc, c.problems
}

// walk applies the rules for every element: no null, no empty string, array
// or object (ele-1 and the JSON format's rules), coding systems absolute URIs
// and codes without stray white space.
func (c *r4Checker) walk(path string, v any) {
	switch v := v.(type) {
	case nil:
		c.fail(path, "is null")
	case string:
		if v == "" {
			c.fail(path, "is an empty string")
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }) {
			c.fail(path, "%q holds a control character", v)
		}
	case []any:
		if len(v) == 0 {
			c.fail(path, "is an empty array")
		}
		for i, x := range v {
			c.walk(fmt.Sprintf("%s[%d]", path, i), x)
		}
	case map[string]any:
		if len(v) == 0 {
			c.fail(path, "is an empty object")
		}
		for k, x := range v {
			c.walk(path+"."+k, x)
		}
		if s, ok := v["system"].(string); ok {
			if u, err := url.Parse(s); err != nil || !u.IsAbs() {
				c.fail(path+".system", "%q is not an absolute URI", s)
			}
		}
		if s, ok := v["code"].(string); ok && !reCode.MatchString(s) {
			c.fail(path+".code", "%q is not a FHIR code", s)
		}
	}
}

// references checks that every reference names an entry of the bundle.
func (c *r4Checker) references(path string, v any) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			c.references(fmt.Sprintf("%s[%d]", path, i), x)
		}
	case map[string]any:
		if ref, ok := v["reference"].(string); ok {
			if _, found := c.kinds[ref]; !found {
				c.fail(path+".reference", "%q resolves to no entry", ref)
			}
		}
		for k, x := range v {
			c.references(path+"."+k, x)
		}
	}
}

func (c *r4Checker) observation(path string, o map[string]any) {
	c.oneOf(path+".status", o["status"], observationStatuses)
	if !hasCoding(o["code"], "http://loinc.org", "72514-3") {
		c.fail(path+".code", "has no LOINC 72514-3 coding")
	}
	categories, _ := o["category"].([]any)
	if !slices.ContainsFunc(categories, func(cat any) bool {
		return hasCoding(cat, "http://terminology.hl7.org/CodeSystem/observation-category", "survey")
	}) {
		c.fail(path+".category", "is not survey")
	}
	c.refersTo(path+".subject", o["subject"], "Patient")
	c.instantLike(path+".effectiveDateTime", o["effectiveDateTime"], reDateTime)
	if n, ok := o["valueInteger"].(json.Number); !ok {
		c.fail(path+".valueInteger", "is missing or not a number")
	} else if v, err := n.Int64(); err != nil || v < 0 || v > 10 {
		c.fail(path+".valueInteger", "%s is not a whole number from 0 to 10", n)
	}
	if site, ok := o["bodySite"]; ok {
		if _, isObject := site.(map[string]any); !isObject {
			c.fail(path+".bodySite", "must be a single CodeableConcept (0..1 in R4)")
		}
	}
	components, _ := o["component"].([]any)
	for i, comp := range components {
		cp := fmt.Sprintf("%s.component[%d]", path, i)
		m, _ := comp.(map[string]any)
		if _, ok := m["code"].(map[string]any); !ok {
			c.fail(cp+".code", "is missing")
		}
		values := 0
		for k := range m {
			if strings.HasPrefix(k, "value") {
				values++
			}
		}
		if values != 1 {
			c.fail(cp, "has %d values, want 1", values)
		}
		if hasCoding(m["code"], "http://loinc.org", "72514-3") {
			c.fail(cp+".code", "repeats the Observation's code (obs-7)")
		}
	}
}

func (c *r4Checker) appointment(path string, a map[string]any) {
	c.oneOf(path+".status", a["status"], appointmentStatusSet)
	participants, _ := a["participant"].([]any)
	if len(participants) == 0 {
		c.fail(path+".participant", "is required")
	}
	hasPatient := false
	for i, p := range participants {
		pp := fmt.Sprintf("%s.participant[%d]", path, i)
		m, _ := p.(map[string]any)
		c.oneOf(pp+".status", m["status"], participantStatuses)
		actor, hasActor := m["actor"].(map[string]any)
		if _, hasType := m["type"]; !hasActor && !hasType {
			c.fail(pp, "has neither type nor actor (app-1)")
		}
		if hasActor {
			if actor["reference"] == nil && actor["display"] == nil {
				c.fail(pp+".actor", "has neither reference nor display")
			}
			if ref, ok := actor["reference"].(string); ok && c.kinds[ref] == "Patient" {
				hasPatient = true
			}
		}
	}
	if !hasPatient {
		c.fail(path+".participant", "does not include the Patient")
	}
	_, hasStart := a["start"]
	_, hasEnd := a["end"]
	if hasStart != hasEnd {
		c.fail(path, "has only one of start and end (app-2)")
	}
	if !hasStart && !slices.Contains([]any{"proposed", "cancelled", "waitlist"}, a["status"]) {
		c.fail(path, "has no start and end but is %v (app-3)", a["status"])
	}
	if hasStart && hasEnd {
		start := c.instant(path+".start", a["start"])
		end := c.instant(path+".end", a["end"])
		if end.Before(start) {
			c.fail(path+".end", "%v is before start %v", a["end"], a["start"])
		}
	}
	if d, ok := a["minutesDuration"]; ok {
		if n, err := d.(json.Number).Int64(); err != nil || n <= 0 {
			c.fail(path+".minutesDuration", "%v is not a positive integer", d)
		}
	}
}

func (c *r4Checker) carePlan(path string, p map[string]any) {
	c.oneOf(path+".status", p["status"], carePlanStatusSet)
	c.oneOf(path+".intent", p["intent"], carePlanIntents)
	c.refersTo(path+".subject", p["subject"], "Patient")
	if period, ok := p["period"].(map[string]any); ok {
		if s, _ := period["start"].(string); !reDateTime.MatchString(s) {
			c.fail(path+".period.start", "%q is not a FHIR dateTime", s)
		}
	}
	activities, _ := p["activity"].([]any)
	for i, act := range activities {
		ap := fmt.Sprintf("%s.activity[%d]", path, i)
		m, _ := act.(map[string]any)
		ref, hasRef := m["reference"]
		detail, hasDetail := m["detail"].(map[string]any)
		if hasRef && hasDetail {
			c.fail(ap, "has both reference and detail (cpp-3)")
		}
		if hasRef {
			c.refersTo(ap+".reference", ref, "Appointment")
		}
		if hasDetail {
			c.oneOf(ap+".detail.status", detail["status"], activityStatusSet)
			if k, ok := detail["kind"]; ok {
				c.oneOf(ap+".detail.kind", k, activityKinds)
			}
			if t, ok := detail["scheduledTiming"].(map[string]any); ok {
				r, _ := t["repeat"].(map[string]any)
				c.oneOf(ap+".detail.scheduledTiming.repeat.periodUnit", r["periodUnit"], timingUnits)
				if _, ok := r["duration"]; ok {
					c.oneOf(ap+".detail.scheduledTiming.repeat.durationUnit", r["durationUnit"], timingUnits)
				}
			}
		}
	}
}

func (c *r4Checker) wantValue(path string, got any, want string) {
	if got != want {
		c.fail(path, "is %v, want %q", got, want)
	}
}

func (c *r4Checker) oneOf(path string, got any, allowed []string) {
	s, _ := got.(string)
	if !slices.Contains(allowed, s) {
		c.fail(path, "%v is not one of %v", got, allowed)
	}
}

func (c *r4Checker) refersTo(path string, ref any, kind string) {
	m, _ := ref.(map[string]any)
	target, _ := m["reference"].(string)
	if got := c.kinds[target]; got != kind {
		c.fail(path, "refers to %q, a %q, want a %s", target, got, kind)
	}
}

func (c *r4Checker) instant(path string, v any) time.Time {
	return c.instantLike(path, v, reInstant)
}

// instantLike checks v against a FHIR date-time pattern and, for a full
// date and time, returns the moment it names.
func (c *r4Checker) instantLike(path string, v any, pattern *regexp.Regexp) time.Time {
	s, _ := v.(string)
	if !pattern.MatchString(s) {
		c.fail(path, "%q does not match the FHIR pattern", s)
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		c.fail(path, "%q does not parse: %v", s, err)
	}
	return t
}

func hasCoding(concept any, system, code string) bool {
	m, _ := concept.(map[string]any)
	codings, _ := m["coding"].([]any)
	return slices.ContainsFunc(codings, func(x any) bool {
		cd, _ := x.(map[string]any)
		return cd["system"] == system && cd["code"] == code
	})
}
