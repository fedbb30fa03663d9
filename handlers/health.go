package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/api"
	"github.com/backcare/backcare/models"
)

// handleHealthz answers while the process runs; it checks nothing else, so
// that a slow database does not get the process restarted.
func handleHealthz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	}
}

// handleReadyz answers 200 only when the database is prepared and answers
// a ping, and otherwise 503 unavailable, whatever the ping's error.
func handleReadyz(s interface{ Ping(context.Context) error }) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			return &models.Error{
				Code:       models.ErrUnavailable,
				Message:    "not ready; the database cannot be reached or is not prepared yet",
				RetryAfter: 5 * time.Second,
			}
		}
		return c.JSON(fiber.Map{"status": "ready", "database": "ok"})
	}
}

func handleOpenAPI() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(api.Spec)
	}
}

// stamp returns now in UTC at the database's millisecond precision, so that
// a time read back equals the time written.
func stamp(now func() time.Time) time.Time {
	return now().UTC().Truncate(time.Millisecond)
}
