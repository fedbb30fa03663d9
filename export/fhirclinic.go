package export

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// The clinic side of the bundle: the clinics and their staff, the
// patient's consent to each clinic, the session summaries shared with the
// patient, and the provider clearances of the safety screening.

const (
	systemOrgType       = "http://terminology.hl7.org/CodeSystem/organization-type"
	systemConsentScope  = "http://terminology.hl7.org/CodeSystem/consentscope"
	systemConsentAction = "http://terminology.hl7.org/CodeSystem/consentaction"
	systemActCode       = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemActReason     = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemParticipation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

	// loincPatientConsent is the consent category the R4 examples use.
	loincPatientConsent = "59284-0"

	sessionSummaryText = "Session summary"
	conversationText   = "Message between the patient and their clinic"
	clearanceText      = "Provider clearance for deep tissue massage"
)

// roleTexts names what each staff role does. No code system has a massage
// therapist (the R4 practitioner-role codes are doctor, nurse, pharmacist,
// researcher, teacher and ict), so the role is text alone.
var roleTexts = map[models.Role]string{
	models.RoleOwner:     "Clinic owner and massage therapist",
	models.RoleTherapist: "Massage therapist",
}

// contraindicationTexts names each screening item a clearance clears.
var contraindicationTexts = map[models.Contraindication]string{
	models.BloodClottingDisorder:     "Bleeding or blood clotting disorder, or blood-thinning medicine",
	models.HeartCondition:            "Heart condition",
	models.RecentSurgery:             "Recent surgery",
	models.RecentFracture:            "Recent or healing fracture",
	models.SevereOsteoporosis:        "Severe osteoporosis",
	models.InfectionOrSkinCondition:  "Infection, open wound, rash or other skin condition where massaged",
	models.ActiveCancer:              "Cancer being treated or not yet treated",
	models.UncontrolledBloodPressure: "High blood pressure not under control",
	models.DeepVeinThrombosis:        "Deep vein thrombosis, now or recently",
}

// consentStatuses maps a care link's status to Consent.status: a revoked
// link is a consent that no longer applies.
var consentStatuses = map[models.LinkStatus]string{
	models.LinkActive:  "active",
	models.LinkRevoked: "inactive",
}

// scopeActions says what each scope lets the clinic do, as consent
// actions: view is reading the record; care is also changing it (plan,
// sessions, notes, clearances), which R4 calls "correct".
var scopeActions = map[models.Scope][]codeableConcept{
	models.ScopeView: {
		consentAction("access", "Access", "See the patient's pain logs, insights, plan, sessions, screening and aftercare"),
	},
	models.ScopeCare: {
		consentAction("access", "Access", "See the patient's pain logs, insights, plan, sessions, screening and aftercare"),
		consentAction("correct", "Access and Correct", "Change the plan and sessions, write session notes and record clearances"),
	},
}

func consentAction(code, display, text string) codeableConcept {
	return codeableConcept{Coding: []coding{{System: systemConsentAction, Code: code, Display: display}}, Text: text}
}

// teamClinic and teamMember are a clinic and a staff member the record
// names. A member's name and clinic come from their account when it is
// there, else from the note or clearance that names them, as written then;
// role and active are known only from the account.
type teamClinic struct{ id, name string }

type teamMember struct {
	id, name, clinicID string
	role               models.Role
	active             *bool
}

// careTeam is everyone on the clinic side the bundle names: each clinic an
// Organization, each staff member a Practitioner and, at their clinic, a
// PractitionerRole. A clinic or staff member is referenced as one of these
// wherever the record names them.
type careTeam struct {
	rs      records
	clinics map[string]teamClinic
	staff   map[string]teamMember
}

func newCareTeam(rs records, in BundleInput) careTeam {
	t := careTeam{rs: rs, clinics: map[string]teamClinic{}, staff: map[string]teamMember{}}
	for _, c := range in.Clinics {
		t.addClinic(c.ID, c.Name)
	}
	for _, st := range in.Staff {
		active := st.Active
		t.addMember(teamMember{id: st.ID, name: st.Name, clinicID: st.ClinicID, role: st.Role, active: &active})
	}
	for _, n := range in.Notes {
		t.addMember(teamMember{id: n.AuthorID, name: n.AuthorName, clinicID: n.ClinicID})
	}
	for _, sc := range in.Screenings {
		if cl := sc.Clearance; cl != nil && !cl.SelfAttested() {
			t.addMember(teamMember{id: cl.StaffID, name: cl.StaffName, clinicID: cl.ClinicID})
			t.addClinic(cl.ClinicID, "")
		}
	}
	for _, l := range in.CareLinks {
		t.addClinic(l.ClinicID, "")
	}
	for _, m := range in.Messages {
		t.addMember(teamMember{id: m.StaffID, name: m.StaffName, clinicID: m.ClinicID})
		t.addClinic(m.ClinicID, "")
	}
	for _, m := range t.staff {
		t.addClinic(m.clinicID, "")
	}
	return t
}

// addClinic and addMember keep the first they are given of each id: the
// accounts come first.
func (t careTeam) addClinic(id, name string) {
	if _, ok := t.clinics[id]; id != "" && !ok {
		t.clinics[id] = teamClinic{id: id, name: name}
	}
}

func (t careTeam) addMember(m teamMember) {
	if _, ok := t.staff[m.id]; m.id != "" && !ok {
		t.staff[m.id] = m
	}
}

func (t careTeam) clinicRecord(id string) record { return record{t.rs.base + "/clinics", id} }

func (t careTeam) memberRecord(id string) record { return record{t.rs.base + "/staff", id} }

// roleRecord is scoped by clinic: the role is the member's at that clinic.
func (t careTeam) roleRecord(m teamMember) record {
	return record{t.rs.base + "/clinics/" + url.PathEscape(m.clinicID) + "/staff", m.id}
}

// clinic returns the reference to a clinic's Organization, or a
// display-only one for a clinic the record does not identify.
func (t careTeam) clinic(id string) reference {
	if _, ok := t.clinics[id]; ok {
		return reference{Reference: t.clinicRecord(id).fullURL()}
	}
	return reference{Type: "Organization", Display: "Unknown clinic"}
}

// member returns the reference to a staff member's Practitioner, showing
// the name as the note or clearance gave it, which may be older than the
// account's.
func (t careTeam) member(id, writtenName string) *reference {
	if _, ok := t.staff[id]; ok {
		return &reference{Reference: t.memberRecord(id).fullURL(), Display: fhirText(writtenName)}
	}
	if writtenName != "" {
		return &reference{Type: "Practitioner", Display: fhirText(writtenName)}
	}
	return nil
}

// entries returns the clinics, then the staff, then their roles, each by
// name and then id, so that the same record always gives the same order.
func (t careTeam) entries() []bundleEntry {
	clinics := slices.SortedFunc(maps.Values(t.clinics), func(a, b teamClinic) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })
	staff := slices.SortedFunc(maps.Values(t.staff), func(a, b teamMember) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })

	var entries []bundleEntry
	for _, c := range clinics {
		r := t.clinicRecord(c.id)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: organization{
			ResourceType: "Organization", ID: r.id(), Identifier: r.identifier(),
			Type: []codeableConcept{{Coding: []coding{{System: systemOrgType, Code: "prov", Display: "Healthcare Provider"}}, Text: "Massage clinic"}},
			Name: fhirText(c.name),
		}})
	}
	for _, m := range staff {
		r := t.memberRecord(m.id)
		p := practitioner{ResourceType: "Practitioner", ID: r.id(), Identifier: r.identifier(), Active: m.active}
		if name := fhirText(m.name); name != "" {
			p.Name = []humanName{{Text: name}}
		}
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: p})
	}
	for _, m := range staff {
		if m.clinicID == "" {
			continue
		}
		r := t.roleRecord(m)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: practitionerRole{
			ResourceType: "PractitionerRole", ID: r.id(), Identifier: r.identifier(), Active: m.active,
			Practitioner: reference{Reference: t.memberRecord(m.id).fullURL()},
			Organization: reference{Reference: t.clinicRecord(m.clinicID).fullURL()},
			Code:         []codeableConcept{{Text: cmp.Or(roleTexts[m.role], "Clinic staff member")}},
		}})
	}
	return entries
}

func (rs records) careLink(l models.CareLink) record { return record{rs.base + "/care-links", l.ID} }

// note is named by its session: a session has one note.
func (rs records) note(n models.SessionNote) record { return record{rs.base + "/session-notes", n.ID} }

// clearance is named by its screening: a screening has one clearance.
func (rs records) clearance(sc models.Screening) record {
	return record{rs.base + "/clearances", sc.ID}
}

// consentOf turns a care link into a privacy Consent: the patient (the
// performer) permits the clinic (the information recipient) to act for
// their treatment, from the link's creation until its revocation. The
// clinic is the recipient rather than Consent.organization, which R4 keeps
// for whoever manages the consent: the patient, in the app. R4 asks for a
// policy (ppc-1); the patient opts in by entering or showing a code.
func consentOf(l models.CareLink, r record, subject, clinic reference, loc *time.Location) (consent, error) {
	status, ok := consentStatuses[l.Status]
	if !ok {
		return consent{}, fmt.Errorf("export: care link %s has unknown status %q", l.ID, l.Status)
	}
	actions, ok := scopeActions[l.Scope]
	if !ok {
		return consent{}, fmt.Errorf("export: care link %s has unknown scope %q", l.ID, l.Scope)
	}
	start := l.CreatedAt.In(loc).Format(time.RFC3339)
	c := consent{
		ResourceType: "Consent",
		ID:           r.id(),
		Identifier:   r.identifier(),
		Status:       status,
		Scope:        codeableConcept{Coding: []coding{{System: systemConsentScope, Code: "patient-privacy", Display: "Privacy Consent"}}},
		Category:     []codeableConcept{{Coding: []coding{{System: systemLOINC, Code: loincPatientConsent}}, Text: "Consent to a clinic's access"}},
		Patient:      subject,
		DateTime:     start,
		Performer:    []reference{subject},
		PolicyRule:   codeableConcept{Coding: []coding{{System: systemActCode, Code: "OPTIN", Display: "opt-in"}}},
		Provision: consentProvision{
			Type:   "permit",
			Period: period{Start: start},
			Actor: []consentActor{{
				Role:      codeableConcept{Coding: []coding{{System: systemParticipation, Code: "PRCP", Display: "primary information recipient"}}},
				Reference: clinic,
			}},
			Action:  actions,
			Purpose: []coding{{System: systemActReason, Code: "TREAT", Display: "treatment"}},
		},
	}
	if l.RevokedAt != nil {
		c.Provision.Period.End = l.RevokedAt.In(loc).Format(time.RFC3339)
	}
	return c, nil
}

// messageOf turns a shared note into a Communication from the therapist to
// the patient about the session: what the patient was told, which is the
// summary alone. A Communication rather than a DocumentReference, because
// it is a message the patient read in the app, not a document; and not an
// Observation, because nothing in it was measured.
func messageOf(n models.SessionNote, r record, subject reference, sender *reference, session string, loc *time.Location) message {
	m := message{
		ResourceType: "Communication",
		ID:           r.id(),
		Identifier:   r.identifier(),
		Status:       "completed",
		Category:     []codeableConcept{{Text: sessionSummaryText}},
		Subject:      subject,
		Sent:         n.UpdatedAt.In(loc).Format(time.RFC3339),
		Recipient:    []reference{subject},
		Sender:       sender,
		Payload:      []messagePayload{{ContentString: fhirText(n.Summary)}},
	}
	if session != "" {
		m.About = []reference{{Reference: session}}
	}
	return m
}

// message is named by its conversation and the sender's UUID, as stored.
func (rs records) message(m models.Message) record { return record{rs.base + "/messages", m.ID} }

// conversationMessageOf turns a message of a conversation into a
// Communication: from the patient to the clinic's Organization, or from
// the staff member (their Practitioner, as named when they wrote) and the
// clinic to the patient. received is when the other side read it.
func conversationMessageOf(cm models.Message, r record, subject reference, team careTeam, loc *time.Location) message {
	m := message{
		ResourceType: "Communication",
		ID:           r.id(),
		Identifier:   r.identifier(),
		Status:       "completed",
		Category:     []codeableConcept{{Text: conversationText}},
		Subject:      subject,
		Sent:         cm.CreatedAt.In(loc).Format(time.RFC3339),
		Payload:      []messagePayload{{ContentString: fhirText(cm.Text)}},
	}
	if cm.ReadAt != nil {
		m.Received = cm.ReadAt.In(loc).Format(time.RFC3339)
	}
	clinic := team.clinic(cm.ClinicID)
	if cm.Author == models.SidePatient {
		m.Sender, m.Recipient = &subject, []reference{clinic}
		return m
	}
	m.Sender = team.member(cm.StaffID, cm.StaffName)
	if m.Sender == nil {
		m.Sender = &clinic
	}
	m.Recipient = []reference{subject}
	return m
}

// clearanceOf turns a screening's clearance into an Observation that the
// patient was cleared for deep tissue massage despite the "yes" answers,
// which are its components. Its performer says who stands behind it: the
// patient for a self-attested clearance, which the app cannot verify, or
// the clinic's staff member and their clinic. Its first note says the same
// in words, for a reader who does not follow references.
func clearanceOf(sc models.Screening, r record, subject reference, team careTeam, loc *time.Location) clearanceObservation {
	cl := sc.Clearance
	o := clearanceObservation{
		ResourceType:      "Observation",
		ID:                r.id(),
		Identifier:        r.identifier(),
		Status:            "final",
		Code:              codeableConcept{Text: clearanceText},
		Subject:           subject,
		EffectiveDateTime: cl.Date,
		Issued:            cl.RecordedAt.In(loc).Format(time.RFC3339),
		ValueBoolean:      true,
	}
	taken := models.LocalDateOf(sc.TakenAt, loc)
	if cl.SelfAttested() {
		o.Performer = []reference{subject}
		o.Note = []annotation{{Text: "Self-attested: the patient recorded this clearance of their screening of " + taken + "; it has not been verified."}}
	} else {
		if m := team.member(cl.StaffID, cl.StaffName); m != nil {
			o.Performer = append(o.Performer, *m)
		}
		if cl.ClinicID != "" {
			o.Performer = append(o.Performer, team.clinic(cl.ClinicID))
		}
		at := ""
		if c := team.clinics[cl.ClinicID]; c.name != "" {
			at = " at " + c.name
		}
		o.Note = []annotation{{Text: fhirText(fmt.Sprintf("Recorded by %s%s, a clinic the patient linked, for their screening of %s.",
			cmp.Or(cl.StaffName, "a staff member"), at, taken))}}
	}
	if note := fhirText(cl.Note); note != "" {
		o.Note = append(o.Note, annotation{Text: note})
	}
	for _, c := range sc.Positive() {
		o.Component = append(o.Component, observationComponent{
			Code:                 codeableConcept{Text: "Contraindication answered yes"},
			ValueCodeableConcept: &codeableConcept{Text: cmp.Or(contraindicationTexts[c], string(c))},
		})
	}
	return o
}
