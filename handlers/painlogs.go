package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type painLogStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	PutPainLog(ctx context.Context, l models.PainLog) (models.PainLog, bool, error)
	PainLog(ctx context.Context, patientID, clientID string) (models.PainLog, error)
	UpdatePainLog(ctx context.Context, l models.PainLog) (models.PainLog, error)
	DeletePainLog(ctx context.Context, patientID, clientID string, now time.Time) error
	ListPainLogs(ctx context.Context, q models.PainLogQuery) ([]models.PainLog, *models.PainLogCursor, error)
	PainLogChanges(ctx context.Context, q models.SyncQuery) ([]models.PainLog, *models.PainLogCursor, error)
}

// Page sizes and the widest date range a listing may ask for.
const (
	defaultPageSize = 50
	maxPageSize     = 200
	maxRangeDays    = 366
)

// painLogRequest is the whole entry, as PUT sends it.
type painLogRequest struct {
	LoggedAt     string   `json:"logged_at"`
	Score        *int     `json:"score"`
	Areas        []string `json:"areas"`
	Stiffness    *int     `json:"stiffness"`
	SleepQuality *int     `json:"sleep_quality"`
	Stress       *int     `json:"stress"`
	Note         string   `json:"note"`
	RedFlags     []string `json:"red_flags"`
}

// painLogPatch changes the fields it names. Clearing an optional rating is
// done by sending the whole entry with PUT.
type painLogPatch struct {
	LoggedAt     *string   `json:"logged_at"`
	Score        *int      `json:"score"`
	Areas        *[]string `json:"areas"`
	Stiffness    *int      `json:"stiffness"`
	SleepQuality *int      `json:"sleep_quality"`
	Stress       *int      `json:"stress"`
	Note         *string   `json:"note"`
	RedFlags     *[]string `json:"red_flags"`
}

type urgentAdviceJSON struct {
	Title  string   `json:"title"`
	Detail string   `json:"detail"`
	Flags  []string `json:"flags"`
}

// painLogResponse is a live entry or a tombstone. Both carry kind and
// deleted, so that a client can tell them apart in a page that mixes them:
// kind is the spec's discriminator, deleted the flag for those that only
// need to know whether to remove the entry.
type painLogResponse struct {
	ID           string            `json:"id"`
	Kind         string            `json:"kind"`
	Deleted      bool              `json:"deleted"`
	LoggedAt     *time.Time        `json:"logged_at,omitempty"`
	LocalDate    string            `json:"local_date"`
	Score        *int              `json:"score,omitempty"`
	Areas        []string          `json:"areas,omitempty"`
	Stiffness    *int              `json:"stiffness,omitempty"`
	SleepQuality *int              `json:"sleep_quality,omitempty"`
	Stress       *int              `json:"stress,omitempty"`
	Note         string            `json:"note,omitempty"`
	RedFlags     []string          `json:"red_flags,omitempty"`
	Urgent       bool              `json:"urgent,omitempty"`
	UrgentAdvice *urgentAdviceJSON `json:"urgent_advice,omitempty"`
	CreatedAt    *time.Time        `json:"created_at,omitempty"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

type painLogPage struct {
	Items      []painLogResponse `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

func toPainLog(l models.PainLog) painLogResponse {
	r := painLogResponse{ID: l.ClientID(), Kind: "entry", LocalDate: l.LocalDate, UpdatedAt: l.UpdatedAt}
	if l.Deleted {
		r.Kind, r.Deleted = "tombstone", true
		return r
	}
	score := l.Score
	r.LoggedAt, r.Score, r.CreatedAt = &l.LoggedAt, &score, &l.CreatedAt
	r.Areas = strs(l.Areas)
	r.Stiffness, r.SleepQuality, r.Stress = l.Stiffness, l.SleepQuality, l.Stress
	r.Note, r.RedFlags, r.Urgent = l.Note, strs(l.RedFlags), l.Urgent
	if a := models.AdviceFor(l); a != nil {
		r.UrgentAdvice = &urgentAdviceJSON{Title: a.Title, Detail: a.Detail, Flags: strs(a.Flags)}
	}
	return r
}

func strs[T ~string](values []T) []string {
	if len(values) == 0 {
		return nil
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func typed[T ~string](values []string) []T {
	if len(values) == 0 {
		return nil
	}
	out := make([]T, len(values))
	for i, v := range values {
		out[i] = T(v)
	}
	return out
}

// parseInstant parses an RFC 3339 time and stores it at millisecond precision.
func parseInstant(probs *models.Problems, field, s string) time.Time {
	if s == "" {
		probs.Add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		probs.Add(field, "must be an RFC 3339 time such as 2026-11-22T08:30:00-07:00")
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// clientID reads the {id} path parameter: the UUID the phone chose.
func clientID(c *fiber.Ctx) (string, error) {
	return models.NormalizeClientID(c.Params("id"))
}

// finish derives what the server owns in an entry: local date, urgency, stamps.
func finish(l *models.PainLog, p models.Patient, now time.Time) {
	l.PatientID = p.ID
	l.LocalDate = models.LocalDateOf(l.LoggedAt, p.Location())
	l.Urgent = l.HasRedFlags()
	l.UpdatedAt = now
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
}

// handlePutPainLog creates or replaces an entry. With If-Match it only
// replaces, and only the version named.
func handlePutPainLog(s painLogStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return &models.Error{Code: models.ErrInvalid, Message: "the request has invalid fields",
				Fields: []models.FieldError{{Field: "id", Message: "must be a UUID"}}}
		}
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req painLogRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		var probs models.Problems
		l := models.PainLog{
			LoggedAt: parseInstant(&probs, "logged_at", req.LoggedAt),
			Areas:    typed[models.BodyArea](req.Areas), Stiffness: req.Stiffness, SleepQuality: req.SleepQuality,
			Stress: req.Stress, Note: req.Note, RedFlags: typed[models.RedFlag](req.RedFlags),
		}
		if req.Score == nil {
			probs.Add("score", "is required")
		} else {
			l.Score = *req.Score
		}
		t := stamp(now)
		probs.Merge(l.Validate(t))
		if err := probs.Err(); err != nil {
			return err
		}
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		l.ID = models.PainLogDocID(p.ID, id)
		finish(&l, p, t)
		var stored models.PainLog
		created := false
		if pre == nil {
			stored, created, err = s.PutPainLog(c.UserContext(), l)
		} else {
			err = edit(c, pre, func() error {
				old, err := s.PainLog(c.UserContext(), p.ID, id)
				if models.ErrorCode(err) == models.ErrNotFound {
					// Nothing is there for If-Match to name.
					return preconditionFailed()
				}
				if err != nil {
					return err
				}
				if err := pre.check(old.Version); err != nil {
					return err
				}
				l.CreatedAt, l.Version = old.CreatedAt, old.Version
				stored, err = s.UpdatePainLog(c.UserContext(), l)
				return err
			})
		}
		if err != nil {
			return err
		}
		if created {
			c.Status(fiber.StatusCreated)
		}
		setETag(c, stored.Version)
		return c.JSON(toPainLog(stored))
	}
}

func handleGetPainLog(s painLogStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return models.Errorf(models.ErrNotFound, "pain log not found")
		}
		l, err := s.PainLog(c.UserContext(), patientID(c), id)
		if err != nil {
			return err
		}
		setETag(c, l.Version)
		return c.JSON(toPainLog(l))
	}
}

// handlePatchPainLog changes the fields the body names: of the version
// If-Match names, or else of the current one (see edit).
func handlePatchPainLog(s painLogStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return models.Errorf(models.ErrNotFound, "pain log not found")
		}
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req painLogPatch
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		var l models.PainLog
		err = edit(c, pre, func() error {
			var err error
			if l, err = s.PainLog(c.UserContext(), patientID(c), id); err != nil {
				return err
			}
			if err := pre.check(l.Version); err != nil {
				return err
			}
			t := stamp(now)
			if err := req.apply(&l, t); err != nil {
				return err
			}
			p, err := s.PatientByID(c.UserContext(), patientID(c))
			if err != nil {
				return err
			}
			finish(&l, p, t)
			l, err = s.UpdatePainLog(c.UserContext(), l)
			return err
		})
		if err != nil {
			return err
		}
		setETag(c, l.Version)
		return c.JSON(toPainLog(l))
	}
}

// apply sets the fields req names on l and validates the result at now.
func (req painLogPatch) apply(l *models.PainLog, now time.Time) error {
	var probs models.Problems
	if req.LoggedAt != nil {
		l.LoggedAt = parseInstant(&probs, "logged_at", *req.LoggedAt)
	}
	if req.Score != nil {
		l.Score = *req.Score
	}
	if req.Areas != nil {
		l.Areas = typed[models.BodyArea](*req.Areas)
	}
	if req.Stiffness != nil {
		l.Stiffness = req.Stiffness
	}
	if req.SleepQuality != nil {
		l.SleepQuality = req.SleepQuality
	}
	if req.Stress != nil {
		l.Stress = req.Stress
	}
	if req.Note != nil {
		l.Note = *req.Note
	}
	if req.RedFlags != nil {
		l.RedFlags = typed[models.RedFlag](*req.RedFlags)
	}
	probs.Merge(l.Validate(now))
	return probs.Err()
}

func handleDeletePainLog(s painLogStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return models.Errorf(models.ErrNotFound, "pain log not found")
		}
		if err := s.DeletePainLog(c.UserContext(), patientID(c), id, stamp(now)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// handleListPainLogs lists entries by date (?from&to, local dates), or, with
// ?updated_since, every change since then — deletions included — for a
// phone that syncs offline entries. Both page with ?cursor&limit.
func handleListPainLogs(s painLogStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		list, sync, err := diaryListing(c)
		if err != nil {
			return err
		}
		var (
			logs []models.PainLog
			next *models.PainLogCursor
		)
		if sync != nil {
			logs, next, err = s.PainLogChanges(c.UserContext(), *sync)
		} else {
			logs, next, err = s.ListPainLogs(c.UserContext(), *list)
		}
		if err != nil {
			return err
		}
		page := painLogPage{Items: make([]painLogResponse, len(logs)), NextCursor: cursorOf(next)}
		for i, l := range logs {
			page.Items[i] = toPainLog(l)
		}
		return c.JSON(page)
	}
}

// diaryListing reads a diary listing's query (pain logs, questionnaire
// responses) for the request's patient: by date (?from&to, local dates),
// or with ?updated_since every change since then, tombstones included,
// for a phone that syncs; both page with ?cursor&limit. Exactly one of
// list and sync is set.
func diaryListing(c *fiber.Ctx) (list *models.PainLogQuery, sync *models.SyncQuery, err error) {
	var probs models.Problems
	if err := onlyQueryParams(c, "from", "to", "updated_since", "cursor", "limit"); err != nil {
		return nil, nil, err
	}
	limit := pageSize(&probs, c.Query("limit"))
	after := decodeCursor(&probs, c.Query("cursor"))
	if since := c.Query("updated_since"); since != "" {
		if c.Query("from") != "" || c.Query("to") != "" {
			probs.Add("updated_since", "cannot be combined with from or to")
		}
		t := parseInstant(&probs, "updated_since", since)
		return nil, &models.SyncQuery{PatientID: patientID(c), Since: t, After: after, Limit: limit}, probs.Err()
	}
	from, to := dateRange(&probs, c.Query("from"), c.Query("to"))
	return &models.PainLogQuery{PatientID: patientID(c), From: from, To: to, After: after, Limit: limit}, nil, probs.Err()
}

// cursorOf is the opaque cursor of next, nil on the last page.
func cursorOf(next *models.PainLogCursor) *string {
	if next == nil {
		return nil
	}
	cursor := encodeCursor(*next)
	return &cursor
}

// onlyQueryParams refuses query parameters the route does not know, so that
// a probe such as ?from[$ne]= is answered, not ignored, and parameters given
// twice, which a proxy or cache in front may read differently from us.
func onlyQueryParams(c *fiber.Ctx, allowed ...string) error {
	var probs models.Problems
	seen := map[string]bool{}
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		key := string(k)
		switch {
		case !slices.Contains(allowed, key):
			probs.Add(key, "is not a query parameter of this route")
		case seen[key]:
			probs.Add(key, "must be given once")
		}
		seen[key] = true
	})
	return probs.Err()
}

// pageSize reads ?limit; values above the maximum are clamped, not refused.
func pageSize(probs *models.Problems, s string) int {
	if s == "" {
		return defaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		probs.Add("limit", "must be a whole number from 1 to %d", maxPageSize)
		return 0
	}
	return min(n, maxPageSize)
}

// dateRange checks ?from&to (local dates, inclusive) and caps the span.
func dateRange(probs *models.Problems, from, to string) (string, string) {
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = time.Parse(time.DateOnly, from); err != nil {
			probs.Add("from", "must be a date as YYYY-MM-DD")
		}
	}
	if to != "" {
		if t, err = time.Parse(time.DateOnly, to); err != nil {
			probs.Add("to", "must be a date as YYYY-MM-DD")
		}
	}
	if !f.IsZero() && !t.IsZero() {
		switch {
		case t.Before(f):
			probs.Add("to", "must not be before from")
		case t.Sub(f) > maxRangeDays*24*time.Hour:
			probs.Add("to", "must be at most %d days after from", maxRangeDays)
		}
	}
	return from, to
}

// instantWindow reads ?from&to (RFC 3339 instants, defaulting to defFrom
// and defTo) and ?limit for a listing by time, and caps the window at maxSpan.
func instantWindow(c *fiber.Ctx, defFrom, defTo time.Time, maxSpan time.Duration) (from, to time.Time, limit int, err error) {
	if err := onlyQueryParams(c, "from", "to", "limit"); err != nil {
		return from, to, 0, err
	}
	var probs models.Problems
	from, to = defFrom, defTo
	if q := c.Query("from"); q != "" {
		from = parseInstant(&probs, "from", q)
	}
	if q := c.Query("to"); q != "" {
		to = parseInstant(&probs, "to", q)
	}
	limit = pageSize(&probs, c.Query("limit"))
	if len(probs) == 0 {
		switch {
		case !to.After(from):
			probs.Add("to", "must be after from")
		case to.Sub(from) > maxSpan:
			probs.Add("to", "must be at most %d days after from", int(maxSpan.Hours()/24))
		}
	}
	return from, to, limit, probs.Err()
}

// cursorJSON is the content of an opaque page cursor.
type cursorJSON struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func encodeCursor(c models.PainLogCursor) string {
	b, _ := json.Marshal(cursorJSON{At: c.At, ID: c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(probs *models.Problems, s string) *models.PainLogCursor {
	if s == "" {
		return nil
	}
	var cj cursorJSON
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 512 || json.Unmarshal(b, &cj) != nil || cj.ID == "" {
		probs.Add("cursor", "is not a cursor this server gave out")
		return nil
	}
	return &models.PainLogCursor{At: cj.At, ID: cj.ID}
}
