package handlers

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// problem is an RFC 9457 problem details body.
type problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Code      string              `json:"code"`
	Errors    []models.FieldError `json:"errors,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

// statusOf is the one map from error code to HTTP status.
var statusOf = map[string]int{
	models.ErrInvalid:            http.StatusBadRequest,
	models.ErrNotFound:           http.StatusNotFound,
	models.ErrConflict:           http.StatusConflict,
	models.ErrPreconditionFailed: http.StatusPreconditionFailed,
	models.ErrUnauthorized:       http.StatusUnauthorized,
	models.ErrForbidden:          http.StatusForbidden,
	models.ErrEmailUnverified:    http.StatusForbidden,
	models.ErrRateLimited:        http.StatusTooManyRequests,
	models.ErrUnavailable:        http.StatusServiceUnavailable,
	models.ErrInternal:           http.StatusInternalServerError,
}

// codeOf names the statuses Fiber itself produces (body too large, no route, …).
var codeOf = map[int]string{
	http.StatusBadRequest:            models.ErrInvalid,
	http.StatusUnauthorized:          models.ErrUnauthorized,
	http.StatusForbidden:             models.ErrForbidden,
	http.StatusNotFound:              models.ErrNotFound,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusTooManyRequests:       models.ErrRateLimited,
	http.StatusServiceUnavailable:    models.ErrUnavailable,
}

// errorHandler answers every error as application/problem+json. Only
// *models.Error messages and Fiber's own status texts reach the client;
// anything else is logged with the request id and answered as a bare 500.
func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := problem{Type: "about:blank", RequestID: requestID(c)}
		var appErr *models.Error
		var fiberErr *fiber.Error
		switch {
		case errors.As(err, &appErr) && appErr.Code != models.ErrInternal:
			if appErr.Code == models.ErrUnavailable {
				// The cause (the driver's text) is for the operators only.
				logger.WarnContext(c.UserContext(), "request failed", "request_id", p.RequestID, "method", c.Method(), "path", c.Path(), "error", err)
			}
			p.Status = statusOf[appErr.Code]
			p.Code = appErr.Code
			p.Detail = appErr.Message
			p.Errors = appErr.Fields
			if appErr.RetryAfter > 0 {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(appErr.RetryAfter.Seconds()))))
			}
		case errors.As(err, &fiberErr) && fiberErr.Code < 500:
			p.Status = fiberErr.Code
			p.Code = codeOf[fiberErr.Code]
			if p.Code == "" {
				p.Code = models.ErrInvalid
			}
			p.Detail = fiberErr.Message
		default:
			logger.ErrorContext(c.UserContext(), "request failed", "request_id", p.RequestID, "method", c.Method(), "path", c.Path(), "error", err)
			p.Status = http.StatusInternalServerError
			p.Code = models.ErrInternal
			p.Detail = "something went wrong on our side; try again later"
		}
		if p.Status == 0 {
			p.Status = http.StatusInternalServerError
		}
		p.Title = http.StatusText(p.Status)
		if p.Status == http.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="backcare"`)
		}
		c.Status(p.Status)
		return writeJSON(c, p, "application/problem+json")
	}
}
