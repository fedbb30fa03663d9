package models

import "time"

// Audit actions.
const (
	AuditSignIn       = "sign_in"
	AuditSignInFailed = "sign_in_failed"
	// AuditPasswordChange is recorded for a change and for a refused one.
	AuditPasswordChange = "password_change"
	AuditExport         = "export"
	AuditErasure        = "erasure"
	AuditReportRead     = "report_read"
	AuditReportCreate   = "report_create"
	AuditReportRevoke   = "report_revoke"
	// AuditPasswordReset is recorded when a reset is mailed ("requested")
	// and when it sets the password ("ok").
	AuditPasswordReset = "password_reset"
	// AuditEmailVerify is recorded when an address is verified, and
	// AuditEmailChange when a change of address is asked for.
	AuditEmailVerify = "email_verify"
	AuditEmailChange = "email_change"
	// Care-team actions: the patient links or unlinks a clinic.
	AuditCareLink   = "care_link"
	AuditCareRevoke = "care_revoke"
)

// Actor kinds of the audit trail.
const (
	ActorPatient   = "patient"
	ActorStaff     = "staff"
	ActorShareLink = "share_link"
)

// AuditEntry records who did what to whose data, when, and how it went. It
// never carries health data: no scores, notes, conditions or answers, only
// ids and the action's name.
type AuditEntry struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
	// Subject is the patient whose data was touched.
	Subject string `bson:"subject"`
	// Actor is who acted: "patient", "report:<id>" for a share link, or
	// "staff:<id>" for a clinic's staff member.
	Actor string `bson:"actor"`
	// ActorKind is ActorPatient, ActorStaff or ActorShareLink; empty in
	// entries from before clinics, whose Actor says it.
	ActorKind string `bson:"actor_kind,omitempty"`
	// ClinicID is the staff member's clinic, for staff entries.
	ClinicID string `bson:"clinic_id,omitempty"`
	Action   string `bson:"action"`
	Outcome  string `bson:"outcome"`
	// Detail is a short, health-free note such as an export's format.
	Detail    string `bson:"detail,omitempty"`
	RequestID string `bson:"request_id,omitempty"`
}

// AuditCursor names an audit entry to page on from: its time and id.
type AuditCursor struct {
	At time.Time
	ID string
}

// Report is a share link to a clinician report. Only the hash of its token
// is kept; the link itself exists only in the patient's hands.
type Report struct {
	ID        string     `bson:"_id"`
	PatientID string     `bson:"patient_id"`
	TokenHash string     `bson:"token_hash"`
	From      string     `bson:"from"`
	To        string     `bson:"to"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	// Version is 1 once the link is revoked (see PainLog.Version).
	Version int64 `bson:"version,omitempty"`
}

// Report limits.
const (
	MaxReportValidity     = 30 * 24 * time.Hour
	DefaultReportValidity = 7 * 24 * time.Hour
)

// Live reports whether the link can be read at now.
func (r Report) Live(now time.Time) bool {
	return r.RevokedAt == nil && now.Before(r.ExpiresAt)
}

// PatientRecords is everything held about one patient.
type PatientRecords struct {
	Patient  Patient
	PainLogs []PainLog
	// Responses are the questionnaire responses, tombstones included.
	Responses  []QuestionnaireResponse
	Screenings []Screening
	Plans      []Plan
	Sessions   []Session
	Reminders  []Reminder
	Devices    []Device
	Reports    []Report
	CareLinks  []CareLink
	// Notes are the shared session notes (the clinic's private fields
	// are the clinic's record, not the patient's).
	Notes []SessionNote
	// Messages are the patient's conversations with their clinics, oldest first.
	Messages []Message
	// Clinics and Staff are the ones the links and notes name.
	Clinics []Clinic
	Staff   []Staff
	Audit   []AuditEntry
}
