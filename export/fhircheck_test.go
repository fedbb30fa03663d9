package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
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
	consentStates        = []string{"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
	provisionTypes       = []string{"deny", "permit"}
	eventStatuses        = []string{"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
	publicationStatuses  = []string{"draft", "active", "retired", "unknown"}
	responseStatuses     = []string{"in-progress", "completed", "amended", "entered-in-error", "stopped"}
	itemTypes            = []string{"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string", "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"}
)

// The kinds of resource each reference may name, from the R4 definitions
// of the elements, narrowed to the kinds the bundle holds.
var (
	observationPerformers = []string{"Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient", "RelatedPerson"}
	consentPerformers     = []string{"Organization", "Patient", "Practitioner", "RelatedPerson", "PractitionerRole"}
	consentActors         = []string{"Device", "Group", "CareTeam", "Organization", "Patient", "Practitioner", "RelatedPerson", "PractitionerRole"}
	communicationParties  = []string{"Device", "Organization", "Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "HealthcareService"}
	responseAuthors       = []string{"Device", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Organization"}
	responseSources       = []string{"Patient", "Practitioner", "PractitionerRole", "RelatedPerson"}
	derivedFromKinds      = []string{"DocumentReference", "ImagingStudy", "Media", "QuestionnaireResponse", "Observation", "MolecularSequence"}
)

// The R4 core extensions that give an integer question its range.
const (
	minValueURL = "http://hl7.org/fhir/StructureDefinition/minValue"
	maxValueURL = "http://hl7.org/fhir/StructureDefinition/maxValue"
)

// clearanceCode is the text the checker knows a clearance Observation by:
// the bundle's Observations are pain scores, questionnaire scores or
// clearances, nothing else.
const clearanceCode = "Provider clearance for deep tissue massage"

// r4Checker collects every violation rather than stopping at the first.
type r4Checker struct {
	problems []string
	// kinds maps each entry's fullUrl to its resourceType, and resources
	// to the resource.
	kinds     map[string]string
	resources map[string]map[string]any
	// forms maps each Questionnaire's canonical url to the Questionnaire.
	forms map[string]map[string]any
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
	c := &r4Checker{kinds: map[string]string{}, resources: map[string]map[string]any{}, forms: map[string]map[string]any{}}
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
		c.kinds[fullURL], c.resources[fullURL] = kind, res
		if u, ok := res["url"].(string); ok && kind == "Questionnaire" {
			if _, dup := c.forms[u]; dup {
				c.fail(path+".resource.url", "%q names two Questionnaires", u)
			}
			c.forms[u] = res
		}
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
		case "Organization":
			c.organization(paths[i], res)
		case "Practitioner":
			c.practitioner(paths[i], res)
		case "PractitionerRole":
			c.practitionerRole(paths[i], res)
		case "Consent":
			c.consent(paths[i], res)
		case "Communication":
			c.communication(paths[i], res)
		case "Questionnaire":
			c.questionnaire(paths[i], res)
		case "QuestionnaireResponse":
			c.questionnaireResponse(paths[i], res)
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
		extensions, _ := v["extension"].([]any)
		for i, e := range extensions {
			c.extension(fmt.Sprintf("%s.extension[%d]", path, i), e)
		}
	}
}

// extension checks an Extension: an absolute url, and either one value or
// nested extensions, not both (ext-1).
func (c *r4Checker) extension(path string, v any) {
	m, _ := v.(map[string]any)
	s, _ := m["url"].(string)
	if u, err := url.Parse(s); err != nil || !u.IsAbs() {
		c.fail(path+".url", "%q is not an absolute URI", s)
	}
	values := 0
	for k := range m {
		if strings.HasPrefix(k, "value") {
			values++
		}
	}
	_, nested := m["extension"]
	switch {
	case values > 1:
		c.fail(path, "has %d values, want at most 1", values)
	case (values == 1) == nested:
		c.fail(path, "has both a value and extensions, or neither (ext-1)")
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

// observation checks what every Observation needs, then a pain score's
// or a clearance's own rules, by its code.
func (c *r4Checker) observation(path string, o map[string]any) {
	c.oneOf(path+".status", o["status"], observationStatuses)
	c.refersTo(path+".subject", o["subject"], "Patient")
	c.instantLike(path+".effectiveDateTime", o["effectiveDateTime"], reDateTime)
	values := 0
	for k := range o {
		if strings.HasPrefix(k, "value") {
			values++
		}
	}
	if values > 1 {
		c.fail(path, "has %d values, want at most 1", values)
	}
	c.components(path, o)
	code, _ := o["code"].(map[string]any)
	switch {
	case hasCoding(code, "http://loinc.org", "72514-3"):
		c.painScore(path, o)
	case hasCoding(code, "http://loinc.org", "91147-9"):
		c.questionnaireScore(path, o)
	case code["text"] == clearanceCode && code["coding"] == nil:
		c.clearance(path, o)
	default:
		c.fail(path+".code", "%v is neither the pain score's LOINC 72514-3, the PEG's 91147-9 nor a clearance", o["code"])
	}
}

// clearance checks a provider's clearance: a yes/no finding on a date,
// recorded at an instant, by someone the bundle names.
func (c *r4Checker) clearance(path string, o map[string]any) {
	if _, ok := o["valueBoolean"].(bool); !ok {
		c.fail(path+".valueBoolean", "%v is not a boolean", o["valueBoolean"])
	}
	c.instant(path+".issued", o["issued"])
	performers, _ := o["performer"].([]any)
	if len(performers) == 0 {
		c.fail(path+".performer", "is required: who stands behind the clearance")
	}
	for i, p := range performers {
		c.refersToOneOf(fmt.Sprintf("%s.performer[%d]", path, i), p, observationPerformers)
	}
	if notes, _ := o["note"].([]any); len(notes) == 0 {
		c.fail(path+".note", "is required: it says who recorded the clearance")
	}
}

// questionnaireScore checks a questionnaire's score: a survey whose value
// is a decimal Quantity in UCUM's {score}, derived from a
// QuestionnaireResponse of the bundle, and within the range of that
// response's items (a mean cannot leave it).
func (c *r4Checker) questionnaireScore(path string, o map[string]any) {
	c.survey(path, o)
	q, ok := o["valueQuantity"].(map[string]any)
	if !ok {
		c.fail(path+".valueQuantity", "is missing")
		return
	}
	c.wantValue(path+".valueQuantity.system", q["system"], "http://unitsofmeasure.org")
	c.wantValue(path+".valueQuantity.code", q["code"], "{score}")
	n, _ := q["value"].(json.Number)
	value, err := n.Float64()
	if err != nil {
		c.fail(path+".valueQuantity.value", "%v is not a decimal", q["value"])
	}
	derived, _ := o["derivedFrom"].([]any)
	var response map[string]any
	for i, d := range derived {
		c.refersToOneOf(fmt.Sprintf("%s.derivedFrom[%d]", path, i), d, derivedFromKinds)
		m, _ := d.(map[string]any)
		if ref, _ := m["reference"].(string); c.kinds[ref] == "QuestionnaireResponse" {
			response = c.resources[ref]
		}
	}
	if response == nil {
		c.fail(path+".derivedFrom", "names no QuestionnaireResponse the score is derived from")
		return
	}
	form, _ := response["questionnaire"].(string)
	items, _ := c.forms[form]["item"].([]any)
	lowest, highest := math.Inf(1), math.Inf(-1)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if lo, ok := integerExtension(m, minValueURL); ok {
			lowest = min(lowest, float64(lo))
		}
		if hi, ok := integerExtension(m, maxValueURL); ok {
			highest = max(highest, float64(hi))
		}
	}
	if err == nil && lowest <= highest && (value < lowest || value > highest) {
		c.fail(path+".valueQuantity.value", "%v is outside the items' range %v to %v", value, lowest, highest)
	}
}

// questionnaire checks a form: its status and canonical url, and its
// items: each with a linkId no other has (que-2) and a known type; an
// integer item with its range in minValue and maxValue extensions of the
// item's own type, the lower bound not above the upper.
func (c *r4Checker) questionnaire(path string, q map[string]any) {
	c.oneOf(path+".status", q["status"], publicationStatuses)
	s, _ := q["url"].(string)
	if u, err := url.Parse(s); err != nil || !u.IsAbs() {
		c.fail(path+".url", "%q is not an absolute URI", s)
	}
	items, _ := q["item"].([]any)
	if len(items) == 0 {
		c.fail(path+".item", "is empty: the form asks nothing")
	}
	seen := map[string]bool{}
	for i, it := range items {
		ip := fmt.Sprintf("%s.item[%d]", path, i)
		m, _ := it.(map[string]any)
		id, _ := m["linkId"].(string)
		if id == "" {
			c.fail(ip+".linkId", "is required")
		}
		if seen[id] {
			c.fail(ip+".linkId", "%q is used twice (que-2)", id)
		}
		seen[id] = true
		c.oneOf(ip+".type", m["type"], itemTypes)
		c.boolean(ip+".required", m, "required")
		if m["type"] != "integer" {
			continue
		}
		lowest, hasMin := integerExtension(m, minValueURL)
		highest, hasMax := integerExtension(m, maxValueURL)
		switch {
		case !hasMin || !hasMax:
			c.fail(ip+".extension", "does not give the range: want minValue and maxValue with a valueInteger")
		case lowest > highest:
			c.fail(ip+".extension", "minValue %d is above maxValue %d", lowest, highest)
		}
	}
}

// questionnaireResponse checks an answered form: its status, subject,
// authored time, author and source, that its identifier is one (0..1 in
// R4), and that it answers a Questionnaire of the bundle: every item one
// of the form's, once (qrs-2), with answers or items but not both
// (qrs-1), each answer one value of the item's type and range, its text
// the form's, and, once completed, every required item answered.
func (c *r4Checker) questionnaireResponse(path string, r map[string]any) {
	c.oneOf(path+".status", r["status"], responseStatuses)
	c.refersTo(path+".subject", r["subject"], "Patient")
	if a, ok := r["authored"]; ok {
		c.instantLike(path+".authored", a, reDateTime)
	}
	if a, ok := r["author"]; ok {
		c.refersToOneOf(path+".author", a, responseAuthors)
	}
	if s, ok := r["source"]; ok {
		c.refersToOneOf(path+".source", s, responseSources)
	}
	if id, ok := r["identifier"]; ok {
		if _, single := id.(map[string]any); !single {
			c.fail(path+".identifier", "must be a single Identifier (0..1 in R4)")
		}
	}
	canonical, _ := r["questionnaire"].(string)
	form, ok := c.forms[canonical]
	if !ok {
		c.fail(path+".questionnaire", "%q is the url of no Questionnaire in the bundle", canonical)
		return
	}
	defs := map[string]map[string]any{}
	formItems, _ := form["item"].([]any)
	for _, it := range formItems {
		m, _ := it.(map[string]any)
		id, _ := m["linkId"].(string)
		defs[id] = m
	}
	answered := map[string]bool{}
	items, _ := r["item"].([]any)
	for i, it := range items {
		ip := fmt.Sprintf("%s.item[%d]", path, i)
		m, _ := it.(map[string]any)
		id, _ := m["linkId"].(string)
		def, ok := defs[id]
		if !ok {
			c.fail(ip+".linkId", "%q is no item of %s", id, canonical)
			continue
		}
		if answered[id] {
			c.fail(ip+".linkId", "%q is answered twice (qrs-2)", id)
		}
		answers, _ := m["answer"].([]any)
		if _, nested := m["item"]; nested && len(answers) > 0 {
			c.fail(ip, "has both answers and items (qrs-1)")
		}
		if text, ok := m["text"]; ok && text != def["text"] {
			c.fail(ip+".text", "%v is not the form's %v", text, def["text"])
		}
		answered[id] = len(answers) > 0
		for j, a := range answers {
			c.answer(fmt.Sprintf("%s.answer[%d]", ip, j), a, def)
		}
	}
	if r["status"] != "completed" {
		return
	}
	for id, def := range defs {
		if def["required"] == true && !answered[id] {
			c.fail(path+".item", "leaves the required item %q unanswered", id)
		}
	}
}

// answer checks one answer against its item: one value, and for an
// integer item a whole number within the item's range.
func (c *r4Checker) answer(path string, v any, def map[string]any) {
	m, _ := v.(map[string]any)
	values := 0
	for k := range m {
		if strings.HasPrefix(k, "value") {
			values++
		}
	}
	if values != 1 {
		c.fail(path, "has %d values, want 1", values)
	}
	if def["type"] != "integer" {
		return
	}
	n, ok := m["valueInteger"].(json.Number)
	got, err := n.Int64()
	if !ok || err != nil {
		c.fail(path+".valueInteger", "%v is not a whole number, as the integer item needs", m["valueInteger"])
		return
	}
	lowest, hasMin := integerExtension(def, minValueURL)
	highest, hasMax := integerExtension(def, maxValueURL)
	if hasMin && hasMax && (got < lowest || got > highest) {
		c.fail(path+".valueInteger", "%d is outside the item's range %d to %d", got, lowest, highest)
	}
}

// integerExtension returns the valueInteger of m's extension extensionURL,
// and whether there is one.
func integerExtension(m map[string]any, extensionURL string) (int64, bool) {
	extensions, _ := m["extension"].([]any)
	for _, e := range extensions {
		em, _ := e.(map[string]any)
		if em["url"] != extensionURL {
			continue
		}
		n, ok := em["valueInteger"].(json.Number)
		v, err := n.Int64()
		return v, ok && err == nil
	}
	return 0, false
}

// survey checks that an Observation is categorised as what the patient
// reported.
func (c *r4Checker) survey(path string, o map[string]any) {
	categories, _ := o["category"].([]any)
	if !slices.ContainsFunc(categories, func(cat any) bool {
		return hasCoding(cat, "http://terminology.hl7.org/CodeSystem/observation-category", "survey")
	}) {
		c.fail(path+".category", "is not survey")
	}
}

func (c *r4Checker) painScore(path string, o map[string]any) {
	c.survey(path, o)
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
}

// components checks that each component has a code and one value, and
// does not repeat the Observation's own code (obs-7).
func (c *r4Checker) components(path string, o map[string]any) {
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
		if hasCoding(m["code"], "http://loinc.org", "72514-3") || (m["code"] != nil && reflect.DeepEqual(m["code"], o["code"])) {
			c.fail(cp+".code", "repeats the Observation's code (obs-7)")
		}
	}
}

// organization: R4 asks for a name or an identifier (org-1).
func (c *r4Checker) organization(path string, o map[string]any) {
	if o["name"] == nil && o["identifier"] == nil {
		c.fail(path, "has neither name nor identifier (org-1)")
	}
	types, _ := o["type"].([]any)
	for i, t := range types {
		m, _ := t.(map[string]any)
		codings, _ := m["coding"].([]any)
		for j, cd := range codings {
			cm, _ := cd.(map[string]any)
			if cm["system"] == "http://terminology.hl7.org/CodeSystem/organization-type" {
				c.oneOf(fmt.Sprintf("%s.type[%d].coding[%d].code", path, i, j), cm["code"],
					[]string{"prov", "dept", "team", "govt", "ins", "pay", "edu", "reli", "crs", "cg", "bus", "other"})
			}
		}
	}
}

// practitioner: a Practitioner with neither name nor identifier is nobody
// a receiving system could file anything under.
func (c *r4Checker) practitioner(path string, p map[string]any) {
	if p["name"] == nil && p["identifier"] == nil {
		c.fail(path, "has neither name nor identifier")
	}
	c.boolean(path+".active", p, "active")
}

func (c *r4Checker) practitionerRole(path string, r map[string]any) {
	c.refersTo(path+".practitioner", r["practitioner"], "Practitioner")
	c.refersTo(path+".organization", r["organization"], "Organization")
	c.boolean(path+".active", r, "active")
}

// consent checks a privacy Consent: its required elements, that it has a
// policy (ppc-1) and, being a patient's, names the patient (ppc-2), and
// that its provision names who may do what, for what, and when.
func (c *r4Checker) consent(path string, cs map[string]any) {
	c.oneOf(path+".status", cs["status"], consentStates)
	if !hasCoding(cs["scope"], "http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy") {
		c.fail(path+".scope", "is not patient-privacy")
	}
	if categories, _ := cs["category"].([]any); len(categories) == 0 {
		c.fail(path+".category", "is required")
	}
	c.refersTo(path+".patient", cs["patient"], "Patient")
	if cs["policy"] == nil && cs["policyRule"] == nil {
		c.fail(path, "has neither policy nor policyRule (ppc-1)")
	}
	c.instantLike(path+".dateTime", cs["dateTime"], reDateTime)
	performers, _ := cs["performer"].([]any)
	for i, p := range performers {
		c.refersToOneOf(fmt.Sprintf("%s.performer[%d]", path, i), p, consentPerformers)
	}
	pv, ok := cs["provision"].(map[string]any)
	if !ok {
		c.fail(path+".provision", "is missing: the consent permits nobody anything")
		return
	}
	pp := path + ".provision"
	c.oneOf(pp+".type", pv["type"], provisionTypes)
	if p, ok := pv["period"]; ok {
		c.period(pp+".period", p)
	}
	actors, _ := pv["actor"].([]any)
	if len(actors) == 0 {
		c.fail(pp+".actor", "is required: whom the consent is for")
	}
	for i, a := range actors {
		ap := fmt.Sprintf("%s.actor[%d]", pp, i)
		m, _ := a.(map[string]any)
		if _, ok := m["role"].(map[string]any); !ok {
			c.fail(ap+".role", "is required")
		}
		c.refersToOneOf(ap+".reference", m["reference"], consentActors)
	}
	if actions, _ := pv["action"].([]any); len(actions) == 0 {
		c.fail(pp+".action", "is empty: the consent permits nothing")
	}
	purposes, _ := pv["purpose"].([]any)
	for i, p := range purposes {
		m, _ := p.(map[string]any)
		if m["system"] == nil || m["code"] == nil {
			c.fail(fmt.Sprintf("%s.purpose[%d]", pp, i), "is not a Coding with system and code")
		}
	}
}

// communication checks a message sent to the patient: its status, when
// it was sent, between whom, and that each payload holds one content.
func (c *r4Checker) communication(path string, m map[string]any) {
	c.oneOf(path+".status", m["status"], eventStatuses)
	c.refersTo(path+".subject", m["subject"], "Patient")
	if sent, ok := m["sent"]; ok {
		c.instantLike(path+".sent", sent, reDateTime)
	}
	if received, ok := m["received"]; ok {
		c.instantLike(path+".received", received, reDateTime)
	}
	if sender, ok := m["sender"]; ok {
		c.refersToOneOf(path+".sender", sender, communicationParties)
	}
	recipients, _ := m["recipient"].([]any)
	for i, r := range recipients {
		c.refersToOneOf(fmt.Sprintf("%s.recipient[%d]", path, i), r, communicationParties)
	}
	payloads, _ := m["payload"].([]any)
	if len(payloads) == 0 {
		c.fail(path+".payload", "is empty: the message says nothing")
	}
	for i, p := range payloads {
		pm, _ := p.(map[string]any)
		contents := 0
		for k := range pm {
			if strings.HasPrefix(k, "content") {
				contents++
			}
		}
		if contents != 1 {
			c.fail(fmt.Sprintf("%s.payload[%d]", path, i), "has %d contents, want 1", contents)
		}
	}
}

// period checks a Period's dates and that it does not end before it
// starts (per-1).
func (c *r4Checker) period(path string, v any) {
	p, _ := v.(map[string]any)
	var start, end time.Time
	if s, ok := p["start"]; ok {
		start = c.instantLike(path+".start", s, reDateTime)
	}
	if e, ok := p["end"]; ok {
		end = c.instantLike(path+".end", e, reDateTime)
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		c.fail(path+".end", "%v is before start %v (per-1)", p["end"], p["start"])
	}
}

func (c *r4Checker) boolean(path string, m map[string]any, key string) {
	if v, ok := m[key]; ok {
		if _, isBool := v.(bool); !isBool {
			c.fail(path, "%v is not a boolean", v)
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

// refersToOneOf checks a reference that names an entry of one of the
// kinds, or, display-only, says in words which it stands for.
func (c *r4Checker) refersToOneOf(path string, ref any, kinds []string) {
	m, _ := ref.(map[string]any)
	target, hasTarget := m["reference"].(string)
	typ, hasType := m["type"].(string)
	switch {
	case hasTarget && !slices.Contains(kinds, c.kinds[target]):
		c.fail(path, "refers to %q, a %q, want one of %v", target, c.kinds[target], kinds)
	case !hasTarget && m["display"] == nil:
		c.fail(path, "has neither reference nor display")
	case !hasTarget && hasType && !slices.Contains(kinds, typ):
		c.fail(path+".type", "%v is not one of %v", typ, kinds)
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
	// A dateTime may be a year, a month or a day, which names no moment.
	if !strings.Contains(s, "T") {
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
