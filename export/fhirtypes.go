package export

// The FHIR R4 JSON shapes the export writes: only the elements it fills.
// Every optional element is omitted when empty, because FHIR forbids empty
// strings, arrays and objects (invariant ele-1).

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	// Type names the kind of resource a display-only reference stands for.
	Type    string `json:"type,omitempty"`
	Display string `json:"display,omitempty"`
}

type annotation struct {
	Text string `json:"text"`
}

type patientResource struct {
	ResourceType  string          `json:"resourceType"`
	ID            string          `json:"id"`
	Identifier    []identifier    `json:"identifier"`
	Name          []humanName     `json:"name,omitempty"`
	Communication []communication `json:"communication,omitempty"`
}

type humanName struct {
	Text string `json:"text"`
}

type communication struct {
	Language  codeableConcept `json:"language"`
	Preferred bool            `json:"preferred"`
}

// observationHead is what every Observation of the bundle starts with.
type observationHead struct {
	ResourceType      string            `json:"resourceType"`
	ID                string            `json:"id"`
	Identifier        []identifier      `json:"identifier"`
	Status            string            `json:"status"`
	Category          []codeableConcept `json:"category"`
	Code              codeableConcept   `json:"code"`
	Subject           reference         `json:"subject"`
	EffectiveDateTime string            `json:"effectiveDateTime"`
	Performer         []reference       `json:"performer"`
}

type observation struct {
	observationHead
	ValueInteger int                    `json:"valueInteger"`
	Note         []annotation           `json:"note,omitempty"`
	BodySite     *codeableConcept       `json:"bodySite,omitempty"`
	Component    []observationComponent `json:"component,omitempty"`
}

type observationComponent struct {
	Code                 codeableConcept  `json:"code"`
	ValueInteger         *int             `json:"valueInteger,omitempty"`
	ValueCodeableConcept *codeableConcept `json:"valueCodeableConcept,omitempty"`
}

type appointment struct {
	ResourceType    string                   `json:"resourceType"`
	ID              string                   `json:"id"`
	Identifier      []identifier             `json:"identifier"`
	Status          string                   `json:"status"`
	Description     string                   `json:"description"`
	Start           string                   `json:"start"`
	End             string                   `json:"end"`
	MinutesDuration int                      `json:"minutesDuration"`
	Comment         string                   `json:"comment,omitempty"`
	Participant     []appointmentParticipant `json:"participant"`
}

type appointmentParticipant struct {
	Actor  reference `json:"actor"`
	Status string    `json:"status"`
}

type carePlan struct {
	ResourceType string             `json:"resourceType"`
	ID           string             `json:"id"`
	Identifier   []identifier       `json:"identifier"`
	Status       string             `json:"status"`
	Intent       string             `json:"intent"`
	Title        string             `json:"title"`
	Description  string             `json:"description"`
	Subject      reference          `json:"subject"`
	Period       period             `json:"period"`
	Activity     []carePlanActivity `json:"activity"`
}

// period is a Period. The end is left out while it is open; when both are
// given, the start does not come after the end (invariant per-1).
type period struct {
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
}

// carePlanActivity has a reference or a detail, never both (invariant cpp-3).
type carePlanActivity struct {
	Reference *reference              `json:"reference,omitempty"`
	Detail    *carePlanActivityDetail `json:"detail,omitempty"`
}

type carePlanActivityDetail struct {
	Kind            string          `json:"kind"`
	Code            codeableConcept `json:"code"`
	Status          string          `json:"status"`
	ScheduledTiming timing          `json:"scheduledTiming"`
	Description     string          `json:"description"`
}

type timing struct {
	Repeat timingRepeat `json:"repeat"`
}

type timingRepeat struct {
	Count        int    `json:"count,omitempty"`
	Duration     int    `json:"duration"`
	DurationUnit string `json:"durationUnit"`
	Frequency    int    `json:"frequency"`
	Period       int    `json:"period"`
	PeriodUnit   string `json:"periodUnit"`
}

type organization struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []identifier      `json:"identifier"`
	Type         []codeableConcept `json:"type"`
	Name         string            `json:"name,omitempty"`
}

type practitioner struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id"`
	Identifier   []identifier `json:"identifier"`
	Active       *bool        `json:"active,omitempty"`
	Name         []humanName  `json:"name,omitempty"`
}

type practitionerRole struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []identifier      `json:"identifier"`
	Active       *bool             `json:"active,omitempty"`
	Practitioner reference         `json:"practitioner"`
	Organization reference         `json:"organization"`
	Code         []codeableConcept `json:"code"`
}

type consent struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []identifier      `json:"identifier"`
	Status       string            `json:"status"`
	Scope        codeableConcept   `json:"scope"`
	Category     []codeableConcept `json:"category"`
	Patient      reference         `json:"patient"`
	DateTime     string            `json:"dateTime"`
	Performer    []reference       `json:"performer"`
	PolicyRule   codeableConcept   `json:"policyRule"`
	Provision    consentProvision  `json:"provision"`
}

type consentProvision struct {
	Type    string            `json:"type"`
	Period  period            `json:"period"`
	Actor   []consentActor    `json:"actor"`
	Action  []codeableConcept `json:"action"`
	Purpose []coding          `json:"purpose"`
}

type consentActor struct {
	Role      codeableConcept `json:"role"`
	Reference reference       `json:"reference"`
}

// message is a Communication; the name communication is Patient's.
type message struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []identifier      `json:"identifier"`
	Status       string            `json:"status"`
	Category     []codeableConcept `json:"category"`
	Subject      reference         `json:"subject"`
	About        []reference       `json:"about,omitempty"`
	Sent         string            `json:"sent"`
	Received     string            `json:"received,omitempty"`
	Recipient    []reference       `json:"recipient"`
	Sender       *reference        `json:"sender,omitempty"`
	Payload      []messagePayload  `json:"payload"`
}

type messagePayload struct {
	ContentString string `json:"contentString"`
}

// clearanceObservation is a provider's clearance as an Observation: a
// yes/no finding, unlike the pain scores' integers.
type clearanceObservation struct {
	ResourceType      string                 `json:"resourceType"`
	ID                string                 `json:"id"`
	Identifier        []identifier           `json:"identifier"`
	Status            string                 `json:"status"`
	Code              codeableConcept        `json:"code"`
	Subject           reference              `json:"subject"`
	EffectiveDateTime string                 `json:"effectiveDateTime"`
	Issued            string                 `json:"issued"`
	Performer         []reference            `json:"performer"`
	ValueBoolean      bool                   `json:"valueBoolean"`
	Note              []annotation           `json:"note"`
	Component         []observationComponent `json:"component,omitempty"`
}

// questionnaire is a Questionnaire: the form a response answers, as the
// catalog defines it.
type questionnaire struct {
	ResourceType string              `json:"resourceType"`
	ID           string              `json:"id"`
	URL          string              `json:"url"`
	Identifier   []identifier        `json:"identifier"`
	Title        string              `json:"title"`
	Status       string              `json:"status"`
	SubjectType  []string            `json:"subjectType"`
	Description  string              `json:"description,omitempty"`
	Copyright    string              `json:"copyright,omitempty"`
	Code         []coding            `json:"code"`
	Item         []questionnaireItem `json:"item"`
}

// questionnaireItem is a question. R4 has no element for an integer
// question's range: the minValue and maxValue extensions carry it.
type questionnaireItem struct {
	Extension []extension `json:"extension"`
	LinkID    string      `json:"linkId"`
	Code      []coding    `json:"code"`
	Text      string      `json:"text"`
	Type      string      `json:"type"`
	Required  bool        `json:"required"`
}

// extension is an Extension with an integer value, the only kind written.
type extension struct {
	URL          string `json:"url"`
	ValueInteger int    `json:"valueInteger"`
}

// questionnaireResponse is a completed questionnaire. Its identifier is a
// single Identifier (0..1 in R4), not a list.
type questionnaireResponse struct {
	ResourceType  string         `json:"resourceType"`
	ID            string         `json:"id"`
	Identifier    identifier     `json:"identifier"`
	Questionnaire string         `json:"questionnaire"`
	Status        string         `json:"status"`
	Subject       reference      `json:"subject"`
	Authored      string         `json:"authored"`
	Author        reference      `json:"author"`
	Source        reference      `json:"source"`
	Item          []responseItem `json:"item"`
}

type responseItem struct {
	LinkID string           `json:"linkId"`
	Text   string           `json:"text"`
	Answer []responseAnswer `json:"answer"`
}

type responseAnswer struct {
	ValueInteger int `json:"valueInteger"`
}

// scoreObservation is a questionnaire's score as an Observation derived
// from the response: a decimal, unlike the pain scores' integers.
type scoreObservation struct {
	observationHead
	ValueQuantity quantity    `json:"valueQuantity"`
	DerivedFrom   []reference `json:"derivedFrom"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	System string  `json:"system"`
	Code   string  `json:"code"`
}
