package handlers

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type deviceStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	UpsertDevice(ctx context.Context, d models.Device) (models.Device, string, error)
	ListDevices(ctx context.Context, patientID string) ([]models.Device, error)
	DeleteDevice(ctx context.Context, patientID, id string) error
}

type deviceRequest struct {
	Token      string `json:"token"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
}

type deviceResponse struct {
	ID         string `json:"id"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
	// TokenHint is the token's last characters, so a patient can tell
	// devices apart; the whole token is never sent back.
	TokenHint string    `json:"token_hint"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

var (
	// FCM registration tokens are URL-safe base64 with ":" separators,
	// about 150–250 characters today; the bounds leave room.
	validFCMToken   = regexp.MustCompile(`^[A-Za-z0-9_:\-]+$`)
	validAppVersion = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+\-]{0,31}$`)
	validDeviceID   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (r deviceRequest) validate() error {
	var probs models.Problems
	if len(r.Token) < 20 || len(r.Token) > 4096 || !validFCMToken.MatchString(r.Token) {
		probs.Add("token", "must be the FCM registration token the app got from Firebase")
	}
	if r.Platform != "ios" && r.Platform != "android" {
		probs.Add("platform", "must be ios or android")
	}
	if !validAppVersion.MatchString(r.AppVersion) {
		probs.Add("app_version", "must be a version such as 1.4.2")
	}
	return probs.Err()
}

func toDevice(d models.Device) deviceResponse {
	return deviceResponse{ID: d.ID, Platform: d.Platform, AppVersion: d.AppVersion,
		TokenHint: models.MaskToken(d.Token), CreatedAt: d.CreatedAt, LastSeen: d.LastSeen}
}

func handleRegisterDevice(s deviceStore, limit *routeLimiter, logger *slog.Logger, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := limit.byAccount(patientID(c)); err != nil {
			return err
		}
		var req deviceRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		// An erased account's access token lives on for minutes; it must
		// not bring a phone back into the push list.
		if _, err := s.PatientByID(c.UserContext(), patientID(c)); err != nil {
			return err
		}
		d, movedFrom, err := s.UpsertDevice(c.UserContext(), models.Device{
			PatientID: patientID(c), Token: req.Token, Platform: req.Platform, AppVersion: req.AppVersion, LastSeen: stamp(now),
		})
		if err != nil {
			return err
		}
		attrs := []any{"request_id", requestID(c), "patient_id", d.PatientID, "device_id", d.ID, "token", models.MaskToken(d.Token)}
		if movedFrom != "" {
			attrs = append(attrs, "moved_from_patient_id", movedFrom)
		}
		logger.InfoContext(c.UserContext(), "device registered", attrs...)
		if d.CreatedAt.Equal(d.LastSeen) && movedFrom == "" {
			c.Status(fiber.StatusCreated)
		}
		return c.JSON(toDevice(d))
	}
}

func handleListDevices(s deviceStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		devices, err := s.ListDevices(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		items := make([]deviceResponse, len(devices))
		for i, d := range devices {
			items[i] = toDevice(d)
		}
		return c.JSON(fiber.Map{"items": items})
	}
}

func handleDeleteDevice(s deviceStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("id")
		if !validDeviceID.MatchString(id) {
			return models.Errorf(models.ErrNotFound, "device not found")
		}
		if err := s.DeleteDevice(c.UserContext(), patientID(c), id); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
