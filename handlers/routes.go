package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

// policy is who may call a route. Every route states one, so a route cannot
// be added without deciding.
type policy int

const (
	// policyPublic routes answer anyone and hold no patient data.
	policyPublic policy = iota + 1
	// policyPublicNoStore routes answer anyone but return secrets (tokens)
	// that no cache may keep.
	policyPublicNoStore
	// policyPatient routes need a patient's access token and act only on
	// that patient's data.
	policyPatient
	// policyStaff routes need an active staff member's access token and
	// act on their clinic; policyOwner ones, the clinic owner's.
	policyStaff
	policyOwner
	// policyStaffView and policyStaffCare routes act on the patient in
	// their {id}: an active staff member whose clinic the patient linked
	// with a scope that covers viewing, or care (see models.MayAct).
	policyStaffView
	policyStaffCare
)

type route struct {
	method  string
	path    string
	policy  policy
	handler fiber.Handler
}

// routes lists every route of the API in one place. /metrics is not one of
// them: it is served on a listener of its own (METRICS_ADDR), never on the
// API's port.
func routes(d Deps) []route {
	s, now := d.Store, d.Now
	if d.PasswordParams == (auth.Params{}) {
		d.PasswordParams = auth.DefaultParams
	}
	rp := replanner{planner: d.Planner, logger: d.Logger}
	pw := passwords{params: d.PasswordParams, work: d.passwordWork}
	limits := newRouteLimiters(d.RateLimits, d.TrustedProxies, now)
	register, login, refresh, device, codes, messages := limits.register, limits.login, limits.refresh, limits.device, limits.codes, limits.message
	patients, staff := patientSignIn(s), staffSignIn(s, s)
	m := mailer{store: s, baseURL: d.BaseURL, queued: d.MailQueued}
	return []route{
		{fiber.MethodGet, "/healthz", policyPublic, handleHealthz()},
		{fiber.MethodGet, "/readyz", policyPublic, handleReadyz(s)},
		{fiber.MethodGet, "/openapi.yaml", policyPublic, handleOpenAPI()},
		// The questionnaire catalog holds no patient data.
		{fiber.MethodGet, "/v1/questionnaires", policyPublic, handleListQuestionnaires()},

		{fiber.MethodPost, "/v1/auth/register", policyPublicNoStore,
			register.byIP(noQuery(handleRegister(s, s, m, d.Signer, pw, register, rp, d.Logger, now)))},
		{fiber.MethodPost, "/v1/auth/login", policyPublicNoStore,
			login.byIP(noQuery(handleLogin(s, patients, d.Signer, pw, login, d.Logger, now)))},
		{fiber.MethodPost, "/v1/auth/refresh", policyPublicNoStore,
			refresh.byIP(noQuery(handleRefresh(s, d.Signer, models.AudiencePatient, refresh, now)))},
		{fiber.MethodPost, "/v1/auth/logout", policyPublicNoStore, noQuery(handleLogout(s, models.AudiencePatient, now))},
		{fiber.MethodPost, "/v1/auth/password-reset", policyPublicNoStore,
			limits.mail.byIP(noQuery(handleRequestReset(s, patients, pw, limits.mail, m, d.Logger, now)))},
		{fiber.MethodPost, "/v1/auth/password-reset/confirm", policyPublicNoStore,
			limits.resetConfirm.byIP(noQuery(handleConfirmReset(s, patients, pw, limits.resetConfirm, m, d.Logger, now)))},
		// One route verifies both kinds of account: the token says whose.
		{fiber.MethodPost, "/v1/auth/verify-email", policyPublicNoStore,
			limits.resetConfirm.byIP(noQuery(handleVerifyEmail(s, []signInKind{patients, staff}, now)))},

		{fiber.MethodGet, "/v1/me", policyPatient, noQuery(handleGetMe(s, s, now))},
		{fiber.MethodPatch, "/v1/me", policyPatient, noQuery(handlePatchMe(s, s, pw, limits.mail, m, rp, now))},
		{fiber.MethodDelete, "/v1/me", policyPatient, noQuery(handleErase(s, now))},
		{fiber.MethodGet, "/v1/me/export", policyPatient, handleExport(s, d.BaseURL, now, "")},
		{fiber.MethodGet, "/v1/me/export/csv", policyPatient, noQuery(handleExport(s, d.BaseURL, now, "csv"))},
		{fiber.MethodGet, "/v1/me/export/fhir", policyPatient, noQuery(handleExport(s, d.BaseURL, now, "fhir"))},
		{fiber.MethodGet, "/v1/me/export/care-csv", policyPatient, noQuery(handleExport(s, d.BaseURL, now, "care-csv"))},
		{fiber.MethodGet, "/v1/me/export/questionnaires-csv", policyPatient, noQuery(handleExport(s, d.BaseURL, now, "questionnaires-csv"))},
		{fiber.MethodPost, "/v1/me/password", policyPatient, noQuery(handleChangePassword(s, d.Signer, pw, now))},
		{fiber.MethodPost, "/v1/me/verify-email", policyPatient, limits.mail.byIP(noQuery(handleResendVerification(s, patients, limits.mail, m, now)))},

		{fiber.MethodPost, "/v1/devices", policyPatient,
			device.byIP(noQuery(handleRegisterDevice(s, device, d.Logger, now)))},
		{fiber.MethodGet, "/v1/devices", policyPatient, noQuery(handleListDevices(s))},
		{fiber.MethodDelete, "/v1/devices/:id", policyPatient, noQuery(handleDeleteDevice(s))},

		{fiber.MethodGet, "/v1/pain-logs", policyPatient, handleListPainLogs(s, now)},
		{fiber.MethodPut, "/v1/pain-logs/:id", policyPatient, noQuery(handlePutPainLog(s, now))},
		{fiber.MethodGet, "/v1/pain-logs/:id", policyPatient, noQuery(handleGetPainLog(s))},
		{fiber.MethodPatch, "/v1/pain-logs/:id", policyPatient, noQuery(handlePatchPainLog(s, now))},
		{fiber.MethodDelete, "/v1/pain-logs/:id", policyPatient, noQuery(handleDeletePainLog(s, now))},

		{fiber.MethodGet, "/v1/questionnaire-responses", policyPatient, handleListResponses(s)},
		{fiber.MethodPut, "/v1/questionnaire-responses/:id", policyPatient, noQuery(handlePutResponse(s, rp, now))},
		{fiber.MethodGet, "/v1/questionnaire-responses/:id", policyPatient, noQuery(handleGetResponse(s))},
		{fiber.MethodDelete, "/v1/questionnaire-responses/:id", policyPatient, noQuery(handleDeleteResponse(s, rp, now))},

		{fiber.MethodPost, "/v1/screening", policyPatient, noQuery(handlePostScreening(s, rp, now))},
		{fiber.MethodGet, "/v1/screening", policyPatient, noQuery(handleGetScreening(s, now))},
		{fiber.MethodPost, "/v1/screening/clearance", policyPatient, noQuery(handlePostClearance(s, rp, now))},

		{fiber.MethodPost, "/v1/plans", policyPatient, noQuery(handleCreatePlan(s, rp, now))},
		{fiber.MethodGet, "/v1/plans/current", policyPatient, noQuery(handleGetCurrentPlan(s, now))},
		{fiber.MethodPatch, "/v1/plans/:id", policyPatient, noQuery(handlePatchPlan(s, rp, now))},

		{fiber.MethodPost, "/v1/sessions", policyPatient, noQuery(handleBookSession(s, s, rp, now))},
		{fiber.MethodGet, "/v1/sessions", policyPatient, handleListSessions(s, s, now)},
		{fiber.MethodGet, "/v1/sessions/:id", policyPatient, noQuery(handleGetSession(s, s))},
		{fiber.MethodPatch, "/v1/sessions/:id", policyPatient, noQuery(handlePatchSession(s, s, rp, now))},
		{fiber.MethodPost, "/v1/sessions/:id/complete", policyPatient, noQuery(handleCompleteSession(s, rp, now))},

		{fiber.MethodGet, "/v1/reminders", policyPatient, handleListReminders(s, now)},
		{fiber.MethodPost, "/v1/reminders/:id/done", policyPatient, noQuery(handleReminderDone(s, now))},
		{fiber.MethodPost, "/v1/reminders/:id/snooze", policyPatient, noQuery(handleSnoozeReminder(s, now))},

		{fiber.MethodGet, "/v1/insights", policyPatient, handleInsights(s, now)},
		{fiber.MethodPost, "/v1/reports", policyPatient, noQuery(requireVerifiedEmail(s, handleCreateReport(s, now)))},
		{fiber.MethodDelete, "/v1/reports/:id", policyPatient, noQuery(handleRevokeReport(s, now))},
		// The share link: its token is the credential, so it needs no sign-in.
		// It reads no query but ignores one: a messenger may append its own.
		{fiber.MethodGet, "/r/:token", policyPublicNoStore, handleReportPage(s, now)},

		{fiber.MethodPost, "/v1/care-team/preview", policyPatient, codes.byIP(noQuery(handlePreviewCareTeam(s, codes, now)))},
		{fiber.MethodPost, "/v1/care-team", policyPatient, codes.byIP(noQuery(requireVerifiedEmail(s, handleJoinCareTeam(s, codes, now))))},
		{fiber.MethodPost, "/v1/care-team/codes", policyPatient, codes.byIP(noQuery(requireVerifiedEmail(s, handleCreateCode(s, models.CodeFromPatient, codes, now))))},
		{fiber.MethodGet, "/v1/care-team", policyPatient, noQuery(handleListCareTeam(s))},
		{fiber.MethodDelete, "/v1/care-team/:id", policyPatient, noQuery(handleLeaveCareTeam(s, now))},
		{fiber.MethodGet, "/v1/care-team/:id/messages", policyPatient, handleListMessages(s)},
		{fiber.MethodPut, "/v1/care-team/:id/messages/:uuid", policyPatient, noQuery(handlePutMessage(s, messages, rp, now))},
		{fiber.MethodPost, "/v1/care-team/:id/messages/read", policyPatient, noQuery(handleReadMessages(s, now))},
		{fiber.MethodGet, "/v1/me/access-log", policyPatient, handleAccessLog(s, s)},

		{fiber.MethodPost, "/v1/clinic/signup", policyPublicNoStore,
			register.byIP(noQuery(handleClinicSignup(s, s, s, m, d.Signer, pw, register, d.Logger, now)))},
		{fiber.MethodPost, "/v1/clinic/auth/login", policyPublicNoStore,
			login.byIP(noQuery(handleLogin(s, staff, d.Signer, pw, login, d.Logger, now)))},
		{fiber.MethodPost, "/v1/clinic/auth/refresh", policyPublicNoStore,
			refresh.byIP(noQuery(handleRefresh(s, d.Signer, models.AudienceStaff, refresh, now)))},
		{fiber.MethodPost, "/v1/clinic/auth/logout", policyPublicNoStore, noQuery(handleLogout(s, models.AudienceStaff, now))},
		{fiber.MethodPost, "/v1/clinic/auth/password-reset", policyPublicNoStore,
			limits.mail.byIP(noQuery(handleRequestReset(s, staff, pw, limits.mail, m, d.Logger, now)))},
		{fiber.MethodPost, "/v1/clinic/auth/password-reset/confirm", policyPublicNoStore,
			limits.resetConfirm.byIP(noQuery(handleConfirmReset(s, staff, pw, limits.resetConfirm, m, d.Logger, now)))},
		{fiber.MethodPost, "/v1/clinic/invitations/accept", policyPublicNoStore,
			register.byIP(noQuery(handleAcceptInvitation(s, s, d.Signer, pw, now)))},

		{fiber.MethodGet, "/v1/clinic", policyStaff, noQuery(handleGetClinic(s))},
		{fiber.MethodPatch, "/v1/clinic", policyOwner, noQuery(handlePatchClinic(s, now))},
		{fiber.MethodGet, "/v1/clinic/me", policyStaff, noQuery(handleGetStaffMe())},
		{fiber.MethodPost, "/v1/clinic/me/verify-email", policyStaff, limits.mail.byIP(noQuery(handleResendVerification(s, staff, limits.mail, m, now)))},
		{fiber.MethodGet, "/v1/clinic/staff", policyStaff, noQuery(handleListStaff(s))},
		{fiber.MethodPatch, "/v1/clinic/staff/:id", policyOwner, noQuery(handlePatchStaff(s, now))},
		{fiber.MethodPost, "/v1/clinic/invitations", policyOwner, noQuery(handleCreateInvitation(s, m, now))},
		{fiber.MethodGet, "/v1/clinic/invitations", policyOwner, noQuery(handleListInvitations(s, now))},
		{fiber.MethodDelete, "/v1/clinic/invitations/:id", policyOwner, noQuery(handleRevokeInvitation(s, now))},
		{fiber.MethodPost, "/v1/clinic/invitations/:id/resend", policyOwner, noQuery(handleResendInvitation(s, m, now))},
		{fiber.MethodPost, "/v1/clinic/link-codes", policyStaff, codes.byIP(noQuery(handleCreateCode(s, models.CodeFromClinic, codes, now)))},
		{fiber.MethodPost, "/v1/clinic/link-codes/redeem", policyStaff, codes.byIP(noQuery(handleRedeemPatientCode(s, codes, now)))},

		{fiber.MethodGet, "/v1/clinic/patients", policyStaff, handleTriage(s, now)},
		{fiber.MethodGet, "/v1/clinic/patients/:id", policyStaffView, noQuery(handleClinicPatient(s, now))},
		{fiber.MethodGet, "/v1/clinic/patients/:id/pain-logs", policyStaffView, handleListPainLogs(s, now)},
		{fiber.MethodGet, "/v1/clinic/patients/:id/insights", policyStaffView, handleInsights(s, now)},
		{fiber.MethodGet, "/v1/clinic/patients/:id/questionnaire-responses", policyStaffView, handleListResponses(s)},
		{fiber.MethodGet, "/v1/clinic/patients/:id/plan", policyStaffView, noQuery(handleGetCurrentPlan(s, now))},
		{fiber.MethodGet, "/v1/clinic/patients/:id/sessions", policyStaffView, handleListSessions(s, s, now)},
		{fiber.MethodGet, "/v1/clinic/patients/:id/screening", policyStaffView, noQuery(handleGetScreening(s, now))},
		{fiber.MethodPut, "/v1/clinic/patients/:id/plan", policyStaffCare, noQuery(handlePutPlan(s, s, rp, now))},
		{fiber.MethodPost, "/v1/clinic/patients/:id/sessions", policyStaffCare, noQuery(handleBookSession(s, s, rp, now))},
		{fiber.MethodPatch, "/v1/clinic/patients/:id/sessions/:sid", policyStaffCare, noQuery(handlePatchSession(s, s, rp, now))},
		{fiber.MethodPost, "/v1/clinic/patients/:id/sessions/:sid/complete", policyStaffCare, noQuery(handleCompleteSession(s, rp, now))},
		{fiber.MethodPut, "/v1/clinic/patients/:id/sessions/:sid/note", policyStaffCare, noQuery(handlePutNote(s, s, now))},
		{fiber.MethodPost, "/v1/clinic/patients/:id/clearances", policyStaffCare, noQuery(handleClinicClearance(s, s, rp, now))},
		// Reading the conversation is a view; writing in it is advice about
		// the patient's care, which needs their consent to care.
		{fiber.MethodGet, "/v1/clinic/patients/:id/messages", policyStaffView, handleListMessages(s)},
		{fiber.MethodPost, "/v1/clinic/patients/:id/messages/read", policyStaffView, noQuery(handleReadMessages(s, now))},
		{fiber.MethodPut, "/v1/clinic/patients/:id/messages/:uuid", policyStaffCare, noQuery(handlePutMessage(s, messages, rp, now))},
	}
}

// noQuery wraps a route that reads no query parameters: any given is
// refused, as on the routes that read some, so that a probe such as
// ?$where=1 gets an answer that says it was not understood.
func noQuery(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c); err != nil {
			return err
		}
		return h(c)
	}
}
