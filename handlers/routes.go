package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
)

type route struct {
	method  string
	path    string
	policy  policy
	handler fiber.Handler
}

// routes lists every route of the API in one place.
func routes(d Deps) []route {
	s, now := d.Store, d.Now
	rp := replanner{planner: d.Planner, logger: d.Logger}
	rl := &rateLimiter{limits: d.RateLimits, counts: newLimiter(now), clientIP: clientIPFunc(d.TrustedProxies)}
	lim := d.RateLimits
	return []route{
		{fiber.MethodGet, "/healthz", policyPublic, handleHealthz()},
		{fiber.MethodGet, "/readyz", policyPublic, handleReadyz(s)},
		{fiber.MethodGet, "/metrics", policyPublic, adaptor.HTTPHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))},
		{fiber.MethodGet, "/openapi.yaml", policyPublic, handleOpenAPI()},

		{fiber.MethodPost, "/v1/auth/register", policyPublicNoStore,
			rl.limitByIP("register", lim.Register, handleRegister(s, d.Signer, d.PasswordParams, rl, rp, d.Logger, now))},
		{fiber.MethodPost, "/v1/auth/login", policyPublicNoStore,
			rl.limitByIP("login", lim.Login, handleLogin(s, d.Signer, rl, d.Logger, now))},
		{fiber.MethodPost, "/v1/auth/refresh", policyPublicNoStore,
			rl.limitByIP("refresh", lim.Refresh, handleRefresh(s, d.Signer, rl, now))},
		{fiber.MethodPost, "/v1/auth/logout", policyPublicNoStore, handleLogout(s, now)},

		{fiber.MethodGet, "/v1/me", policyPatient, handleGetMe(s)},
		{fiber.MethodPatch, "/v1/me", policyPatient, handlePatchMe(s, rp, now)},
		{fiber.MethodDelete, "/v1/me", policyPatient, handleErase(s, now)},
		{fiber.MethodGet, "/v1/me/export", policyPatient, handleExport(s, d.BaseURL, now)},
		{fiber.MethodPost, "/v1/me/password", policyPatient, handleChangePassword(s, d.Signer, d.PasswordParams, now)},

		{fiber.MethodPost, "/v1/devices", policyPatient,
			rl.limitByIP("device", lim.Device, handleRegisterDevice(s, rl, d.Logger, now))},
		{fiber.MethodGet, "/v1/devices", policyPatient, handleListDevices(s)},
		{fiber.MethodDelete, "/v1/devices/:id", policyPatient, handleDeleteDevice(s)},

		{fiber.MethodGet, "/v1/pain-logs", policyPatient, handleListPainLogs(s, now)},
		{fiber.MethodPut, "/v1/pain-logs/:id", policyPatient, handlePutPainLog(s, now)},
		{fiber.MethodGet, "/v1/pain-logs/:id", policyPatient, handleGetPainLog(s)},
		{fiber.MethodPatch, "/v1/pain-logs/:id", policyPatient, handlePatchPainLog(s, now)},
		{fiber.MethodDelete, "/v1/pain-logs/:id", policyPatient, handleDeletePainLog(s, now)},

		{fiber.MethodPost, "/v1/screening", policyPatient, handlePostScreening(s, rp, now)},
		{fiber.MethodGet, "/v1/screening", policyPatient, handleGetScreening(s, now)},
		{fiber.MethodPost, "/v1/screening/clearance", policyPatient, handlePostClearance(s, rp, now)},

		{fiber.MethodPost, "/v1/plans", policyPatient, handleCreatePlan(s, rp, now)},
		{fiber.MethodGet, "/v1/plans/current", policyPatient, handleGetCurrentPlan(s, now)},
		{fiber.MethodPatch, "/v1/plans/:id", policyPatient, handlePatchPlan(s, rp, now)},

		{fiber.MethodPost, "/v1/sessions", policyPatient, handleBookSession(s, rp, now)},
		{fiber.MethodGet, "/v1/sessions", policyPatient, handleListSessions(s, now)},
		{fiber.MethodPatch, "/v1/sessions/:id", policyPatient, handlePatchSession(s, rp, now)},
		{fiber.MethodPost, "/v1/sessions/:id/complete", policyPatient, handleCompleteSession(s, rp, now)},

		{fiber.MethodGet, "/v1/reminders", policyPatient, handleListReminders(s, now)},
		{fiber.MethodPost, "/v1/reminders/:id/done", policyPatient, handleReminderDone(s, now)},
		{fiber.MethodPost, "/v1/reminders/:id/snooze", policyPatient, handleSnoozeReminder(s, now)},

		{fiber.MethodGet, "/v1/insights", policyPatient, handleInsights(s, now)},
		{fiber.MethodPost, "/v1/reports", policyPatient, handleCreateReport(s, now)},
		{fiber.MethodDelete, "/v1/reports/:id", policyPatient, handleRevokeReport(s, now)},
		// The share link: its token is the credential, so it needs no sign-in.
		{fiber.MethodGet, "/r/:token", policyPublicNoStore, handleReportPage(s, now)},
	}
}
