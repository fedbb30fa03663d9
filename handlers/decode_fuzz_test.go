package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/fnv"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/backcare/backcare/models"
)

// bodyCase is one request body type the handlers decode: how to decode a
// body into it, and the checks its handler makes before touching the store.
type bodyCase struct {
	typ    reflect.Type
	decode func(c *fiber.Ctx) (any, error)
	check  func(v any) error
}

// body describes the request type T; check may be nil when the handler's
// only checks need the store (a password against its hash, a token's owner).
func body[T any](check func(T) error) bodyCase {
	return bodyCase{
		typ: reflect.TypeFor[T](),
		decode: func(c *fiber.Ctx) (any, error) {
			var v T
			err := decodeBody(c, &v)
			return v, err
		},
		check: func(v any) error {
			if check == nil {
				return nil
			}
			return check(v.(T))
		},
	}
}

// fuzzNow is the clock of the body checks.
var fuzzNow = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// requestBodies lists every request body type the handlers decode;
// TestRequestBodiesCoverHandlers keeps it complete.
var requestBodies = []bodyCase{
	body(func(r registerRequest) error {
		var probs models.Problems
		if err := models.ValidatePassword(r.Password); err != nil {
			probs.Add("password", "%s", err)
		}
		p := models.NewPatient("fuzz", r.Email, r.Name, r.Timezone, fuzzNow)
		if r.Locale != "" {
			p.Locale = r.Locale
		}
		probs.Merge(p.Validate())
		return probs.Err()
	}),
	body[loginRequest](nil),
	body(func(r messageRequest) error { _, err := models.CleanMessageText(r.Text); return err }),
	body(func(r readRequest) error { _, err := r.messageID(); return err }),
	body[refreshRequest](nil),
	body(func(r resetRequest) error {
		if _, err := models.ValidateEmail(r.Email); err != nil {
			return invalid("email", "%s", err)
		}
		return nil
	}),
	body(resetConfirmRequest.validate),
	body[verifyRequest](nil),
	body(func(r passwordChangeRequest) error {
		if err := models.ValidatePassword(r.NewPassword); err != nil {
			return invalid("new_password", "%s", err)
		}
		return nil
	}),
	body(deviceRequest.validate),
	body(func(r patchMeRequest) error {
		p := models.NewPatient("fuzz", "pat@example.com", "Pat", "Europe/Berlin", fuzzNow)
		var probs models.Problems
		applyProfilePatch(&p, r, &probs)
		probs.Merge(p.Validate())
		if _, err := r.emailChange(p.Email); err != nil {
			probs.Merge(err)
		}
		return probs.Err()
	}),
	body(func(r painLogRequest) error {
		var probs models.Problems
		l := models.PainLog{
			LoggedAt: parseInstant(&probs, "logged_at", r.LoggedAt),
			Areas:    typed[models.BodyArea](r.Areas), Stiffness: r.Stiffness, SleepQuality: r.SleepQuality,
			Stress: r.Stress, Note: r.Note, RedFlags: typed[models.RedFlag](r.RedFlags),
		}
		if r.Score != nil {
			l.Score = *r.Score
		}
		probs.Merge(l.Validate(fuzzNow))
		return probs.Err()
	}),
	body(func(r responseRequest) error {
		_, err := r.response(fuzzNow)
		return err
	}),
	body(func(r painLogPatch) error {
		var probs models.Problems
		l := models.PainLog{LoggedAt: fuzzNow.Add(-time.Hour), Score: 4}
		if r.LoggedAt != nil {
			l.LoggedAt = parseInstant(&probs, "logged_at", *r.LoggedAt)
		}
		if r.Score != nil {
			l.Score = *r.Score
		}
		if r.Areas != nil {
			l.Areas = typed[models.BodyArea](*r.Areas)
		}
		if r.RedFlags != nil {
			l.RedFlags = typed[models.RedFlag](*r.RedFlags)
		}
		if r.Note != nil {
			l.Note = *r.Note
		}
		l.Stiffness, l.SleepQuality, l.Stress = r.Stiffness, r.SleepQuality, r.Stress
		probs.Merge(l.Validate(fuzzNow))
		return probs.Err()
	}),
	body(func(r createPlanRequest) error {
		start := cmpOr(r.StartDate, "2026-11-23")
		day, _ := time.Parse(time.DateOnly, start)
		c := models.DefaultCadence(day.Weekday())
		var probs models.Problems
		applyCadence(&c, r.cadenceFields, &probs)
		if err := probs.Err(); err != nil {
			return err
		}
		_, err := models.NewPlan("fuzz", "fuzz", start, c, false, fuzzNow)
		return err
	}),
	body(func(r patchPlanRequest) error {
		c := models.DefaultCadence(time.Monday)
		var probs models.Problems
		applyCadence(&c, r.cadenceFields, &probs)
		if err := probs.Err(); err != nil {
			return err
		}
		if r.EffectiveFrom == nil {
			return c.Validate()
		}
		plan, err := models.NewPlan("fuzz", "fuzz", "2026-11-02", models.DefaultCadence(time.Monday), false, fuzzNow)
		if err != nil {
			return err
		}
		return plan.ChangeCadence(*r.EffectiveFrom, c, fuzzNow, time.UTC)
	}),
	body[eraseRequest](nil),
	body[snoozeRequest](nil),
	body(func(r reportRequest) error {
		var probs models.Problems
		dateRange(&probs, cmpOr(r.From, "2026-09-01"), cmpOr(r.To, "2026-11-22"))
		return probs.Err()
	}),
	body(func(r screeningRequest) error {
		sc := models.Screening{ID: "fuzz", PatientID: "fuzz", TakenAt: fuzzNow, Answers: map[models.Contraindication]bool{}}
		for k, v := range r.Answers {
			sc.Answers[models.Contraindication(k)] = v
		}
		return sc.Validate()
	}),
	body(func(r clearanceRequest) error {
		answers := map[models.Contraindication]bool{}
		for _, c := range models.Contraindications {
			answers[c] = false
		}
		answers[models.Contraindications[0]] = true
		sc := models.Screening{ID: "fuzz", PatientID: "fuzz", TakenAt: fuzzNow.Add(-time.Hour), Answers: answers}
		return sc.RecordClearance(r.Date, r.Note, models.Clearance{}, fuzzNow, time.UTC)
	}),
	body(func(r sessionRequest) error {
		var probs models.Problems
		ss := models.Session{ID: "fuzz", PatientID: "fuzz", ScheduledAt: parseInstant(&probs, "scheduled_at", r.ScheduledAt),
			DurationMinutes: models.DefaultSessionMinutes, Status: models.SessionScheduled, Therapist: r.Therapist, Clinic: r.Clinic}
		if r.DurationMinutes != nil {
			ss.DurationMinutes = *r.DurationMinutes
		}
		probs.Merge(ss.Validate(fuzzNow))
		return probs.Err()
	}),
	body(func(r sessionPatch) error {
		if r.Action != nil {
			return nil
		}
		ss := models.Session{ID: "fuzz", PatientID: "fuzz", ScheduledAt: fuzzNow.Add(48 * time.Hour),
			DurationMinutes: models.DefaultSessionMinutes, Status: models.SessionScheduled}
		return editSession(&ss, r, fuzzNow)
	}),
	body(func(r completeRequest) error {
		feedback, err := r.feedback()
		if err != nil {
			return err
		}
		ss := models.Session{ID: "fuzz", PatientID: "fuzz", ScheduledAt: fuzzNow.Add(-2 * time.Hour),
			DurationMinutes: models.DefaultSessionMinutes, Status: models.SessionScheduled}
		_, err = ss.Complete(fuzzNow, feedback)
		return err
	}),
	body(func(r clinicSignupRequest) error { _, err := r.clinic(fuzzNow); return err }),
	body(func(r clinicPatch) error {
		c := models.Clinic{Name: "Clinic", Timezone: "UTC", CancellationHours: models.DefaultCancellationHours}
		return r.apply(&c)
	}),
	body(func(r invitationRequest) error { _, _, err := r.validate(); return err }),
	body(func(r acceptInvitationRequest) error { return r.validate() }),
	body(func(r staffPatch) error {
		if r.Active == nil {
			return invalid("active", "is required")
		}
		return nil
	}),
	body(func(r scopeRequest) error { _, err := parseScope(r.Scope); return err }),
	body(func(r codeRequest) error {
		if _, _, ok := models.ParseLinkCode(r.Code); !ok {
			return invalid("code", "must be 8 letters and digits")
		}
		return nil
	}),
	body(func(r noteRequest) error { _, err := r.content(); return err }),
	body(func(r putPlanRequest) error {
		var probs models.Problems
		cadence := models.DefaultCadence(time.Monday)
		applyCadence(&cadence, r.cadenceFields, &probs)
		if err := probs.Err(); err != nil {
			return err
		}
		if r.HomeCare != nil {
			var p models.Plan
			return p.SetHomeCare(*r.HomeCare)
		}
		return cadence.Validate()
	}),
}

func cmpOr(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// TestRequestBodiesCoverHandlers finds every decodeBody(c, &req) in the
// handlers and the type req is declared with, so that a new request type
// cannot be left out of requestBodies and so out of the fuzzing.
func TestRequestBodiesCoverHandlers(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decoded := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Each handler is a closure that declares `var req T` and passes &req.
		ast.Inspect(f, func(n ast.Node) bool {
			var fn *ast.BlockStmt
			switch n := n.(type) {
			case *ast.FuncDecl:
				fn = n.Body
			case *ast.FuncLit:
				fn = n.Body
			}
			if fn != nil {
				for typ, at := range decodedIn(t, fset, fn) {
					decoded[typ] = at
				}
			}
			return true
		})
	}
	listed := map[string]bool{}
	for _, b := range requestBodies {
		listed[b.typ.Name()] = true
		if _, ok := decoded[b.typ.Name()]; !ok {
			t.Errorf("requestBodies lists %s, which no handler decodes", b.typ.Name())
		}
	}
	for typ, at := range decoded {
		if !listed[typ] {
			t.Errorf("%s: %s is decoded from a request body but missing from requestBodies", at, typ)
		}
	}
	if len(decoded) < 18 {
		t.Errorf("found %d request body types; the handlers decoded 18 when this test was written", len(decoded))
	}
}

// decodedIn returns the types that the function body decodes request
// bodies into, with where; nested functions are left to their own call.
func decodedIn(t *testing.T, fset *token.FileSet, body *ast.BlockStmt) map[string]string {
	declared, decoded := map[string]string{}, map[string]string{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ValueSpec:
			if typ, ok := n.Type.(*ast.Ident); ok {
				for _, id := range n.Names {
					declared[id.Name] = typ.Name
				}
			}
		case *ast.CallExpr:
			if fn, ok := n.Fun.(*ast.Ident); !ok || fn.Name != "decodeBody" || len(n.Args) != 2 {
				return true
			}
			at := fset.Position(n.Pos()).String()
			addr, ok := n.Args[1].(*ast.UnaryExpr)
			if !ok || addr.Op != token.AND {
				t.Errorf("%s: decodeBody's target is not &variable; this test cannot tell its type", at)
				return true
			}
			id, ok := addr.X.(*ast.Ident)
			if !ok || declared[id.Name] == "" {
				t.Errorf("%s: decodeBody's target is not declared as `var name Type` before it; this test cannot tell its type", at)
				return true
			}
			decoded[declared[id.Name]] = at
		}
		return true
	})
	return decoded
}

// FuzzDecodeBody decodes any bytes as each request body type and checks:
//   - decoding never panics;
//   - a refused body gets a problem that names a field;
//   - an accepted body is a JSON object without keys that are empty, start with "$" or
//     contain "." at any depth, and without null at any depth;
//   - the handler's own checks on an accepted value either pass or answer
//     with a problem that names a field.
func FuzzDecodeBody(f *testing.F) {
	seeds := map[string][]string{
		"registerRequest": {`{"email":"pat@example.com","password":"a long passphrase","name":"Pat","timezone":"America/Edmonton"}`,
			`{"email":"pat@example.com","password":"x","timezone":"../../etc/passwd","locale":"zz-ZZ-x"}`},
		"loginRequest":          {`{"email":"pat@example.com","password":"a long passphrase"}`, `{"$where":"1"}`},
		"refreshRequest":        {`{"refresh_token":"abc"}`, `{"refresh_token":{"$ne":null}}`},
		"passwordChangeRequest": {`{"current_password":"old one","new_password":"a new long passphrase"}`},
		"deviceRequest":         {`{"token":"abcdefghijklmnopqrstuvwxyz:0123","platform":"ios","app_version":"1.4.2"}`},
		"patchMeRequest": {`{"timezone":"Europe/Berlin","quiet_hours":{"start":"22:00","end":"07:00"},"reminder_preferences":{"weekly_summary":{"enabled":true,"time_of_day":"09:00","weekday":"sunday"}}}`,
			`{"reminder_preferences":{"a.b":{"enabled":true}}}`, `{"reminder_preferences":{"nope":{"weekday":"someday"}}}`},
		"painLogRequest": {`{"logged_at":"2026-11-22T08:30:00-07:00","score":5,"areas":["lower_back"],"stiffness":3,"red_flags":["fever"]}`,
			`{"logged_at":"2026-11-22T08:30:00Z","score":11,"areas":["elbow"]}`, `{"score":5,"note":{"$gt":""}}`},
		"responseRequest": {`{"questionnaire":"peg3","answered_at":"2026-11-22T08:30:00-07:00","answers":{"pain":6,"enjoyment":5,"activity":4}}`,
			`{"questionnaire":"odi","answers":{"pain":11}}`, `{"questionnaire":"peg3","answers":{"$gt":1}}`},
		"painLogPatch":      {`{"score":3}`, `{"areas":null,"note":"better"}`, `{"logged_at":"yesterday"}`},
		"createPlanRequest": {`{"start_date":"2026-11-23","initial_sessions":4,"maintenance_monthly":true,"preferred_weekday":"tuesday","preferred_time":"17:30"}`, `{"start_date":"2026-02-30"}`},
		"patchPlanRequest":  {`{"action":"pause"}`, `{"effective_from":"2026-12-01","maintenance_weeks":3}`, `{"session_minutes":75,"aftercare":"both"}`},
		"eraseRequest":      {`{"password":"a long passphrase"}`},
		"snoozeRequest":     {`{"minutes":30}`, `{"minutes":1e400}`, `{"minutes":-9223372036854775808}`},
		"reportRequest":     {`{"from":"2026-09-01","to":"2026-11-22","valid_days":7}`, `{"from":"2026-11-22","to":"2026-09-01"}`},
		"screeningRequest":  {`{"answers":{"dvt":false,"recent_surgery":true}}`, `{"answers":{"x.y":true}}`},
		"clearanceRequest":  {`{"date":"2026-11-20","note":"GP said fine"}`, `{"date":"2027-01-01"}`},
		"sessionRequest":    {`{"scheduled_at":"2026-11-25T10:00:00+01:00","duration_minutes":90,"therapist":"Sam"}`, `{"scheduled_at":"2026-11-25T10:00:00+01:00","duration_minutes":0}`},
		"sessionPatch":      {`{"action":"cancel"}`, `{"scheduled_at":"2026-11-26T10:00:00Z"}`, `{"clinic":"` + strings.Repeat("x", 300) + `"}`},
		"completeRequest":   {`{"pressure_felt":3,"soreness_after":4,"note":"sore"}`, `{"pressure_felt":9}`},
		"clinicSignupRequest": {`{"clinic_name":"North Clinic","timezone":"Europe/Berlin","name":"Sam","email":"sam@north.example","password":"a long passphrase"}`,
			`{"clinic_name":"","timezone":"Moon/Base","email":"x"}`},
		"clinicPatch":             {`{"cancellation_hours":48}`, `{"cancellation_hours":-1,"name":""}`},
		"invitationRequest":       {`{"email":"kim@north.example","role":"therapist"}`, `{"email":"kim","role":"owner"}`},
		"acceptInvitationRequest": {`{"token":"abc","name":"Kim","password":"a long passphrase"}`, `{"token":"","password":"short"}`},
		"staffPatch":              {`{"active":false}`, `{"active":"no"}`},
		"scopeRequest":            {`{"scope":"care"}`, `{"scope":"admin"}`},
		"codeRequest":             {`{"code":"7KQ4-MZ2P"}`, `{"code":"7kq4 mz2p"}`, `{"code":"OOOO-IIII"}`},
		"noteRequest": {`{"subjective":"sore","areas_treated":["lower_back"],"techniques":["trigger point"],"pressure":"firm","shared":true,"summary":"walk daily"}`,
			`{"shared":true}`, `{"pressure":"crushing","techniques":[""]}`},
		"resetRequest":        {`{"email":"pat@example.com"}`, `{"email":"pat@example.com\r\nBcc: x@example.com"}`},
		"resetConfirmRequest": {`{"token":"abc","password":"a long passphrase"}`, `{"email":"pat@example.com","code":"123456","password":"a long passphrase"}`, `{"token":"abc","code":"12a456"}`},
		"verifyRequest":       {`{"token":"abc"}`, `{"token":""}`},
		"putPlanRequest":      {`{"home_care":"heat 20 min","stretching":false,"initial_sessions":5}`, `{"start_date":"2026-02-30","action":"archive"}`},
		"messageRequest":      {`{"text":"Sore on day three?\nIs that normal?"}`, `{"text":"   "}`, `{"text":"bell\u0007"}`},
		"readRequest":         {`{"up_to":"3f2b6f0e-8a4c-4b1e-9d2a-0c7e5f1a2b3c"}`, `{"up_to":"last"}`},
	}
	// Every type gets its own seeds, an empty object and null; the other
	// shapes go to one type each, as the fuzzer moves inputs between types
	// anyway, and each seed costs the short run time before fuzzing starts.
	generic := []string{`[]`, `{"a":1} {"b":2}`, `{"a":[[[[[[[[[1]]]]]]]]]}`, `{"\u0024x":1}`, "{\"email\":\"\xff\"}",
		`{"EMAIL":"pat@example.com"}`, `{"email":"a","email":"b"}`, `{"":""}`}
	for i, b := range requestBodies {
		name := b.typ.Name()
		if _, ok := seeds[name]; !ok {
			f.Fatalf("no seed bodies for %s", name)
		}
		for _, s := range append(seeds[name], `{}`, `null`) {
			f.Add(name, []byte(s))
		}
		if i < len(generic) {
			f.Add(name, []byte(generic[i]))
		}
	}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, typeName string, raw []byte) {
		bc := pickBody(typeName)
		c := app.AcquireCtx(&fasthttp.RequestCtx{})
		defer app.ReleaseCtx(c)
		c.Request().Header.SetContentType(fiber.MIMEApplicationJSON)
		c.Request().SetBody(raw)

		v, err := bc.decode(c)
		if err != nil {
			requireFieldProblem(t, bc, raw, "refused", err)
			return
		}
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
			t.Fatalf("%s accepted %q, which is not one JSON object", bc.typ.Name(), raw)
		}
		if key, ok := operatorKey(trimmed); ok {
			t.Fatalf("%s accepted %q, which has the key %q", bc.typ.Name(), raw, key)
		}
		if holdsNull(trimmed) {
			t.Fatalf("%s accepted %q, which holds a null", bc.typ.Name(), raw)
		}
		if err := bc.check(v); err != nil {
			requireFieldProblem(t, bc, raw, "checked", err)
		}
	})
}

// pickBody returns the body type of that name, or one picked by the name's
// hash, so that every fuzzed name decodes into some real request type.
func pickBody(name string) bodyCase {
	i := slices.IndexFunc(requestBodies, func(b bodyCase) bool { return b.typ.Name() == name })
	if i < 0 {
		h := fnv.New32a()
		h.Write([]byte(name))
		i = int(h.Sum32() % uint32(len(requestBodies)))
	}
	return requestBodies[i]
}

// requireFieldProblem fails unless err is an invalid-request problem whose
// every entry names a field and says what is wrong with it.
func requireFieldProblem(t *testing.T, bc bodyCase, raw []byte, what string, err error) {
	t.Helper()
	var me *models.Error
	if !errors.As(err, &me) || me.Code != models.ErrInvalid || len(me.Fields) == 0 {
		t.Fatalf("%s %s %q with %#v, not a problem that names a field", bc.typ.Name(), what, raw, err)
	}
	for _, fe := range me.Fields {
		if fe.Message == "" || fe.Field == "" {
			t.Fatalf("%s %s %q with a field error missing its field or message: %+v", bc.typ.Name(), what, raw, me.Fields)
		}
	}
}

// operatorKey finds, independently of decodeBody, a key at any depth that
// is empty, starts with "$" or contains ".".
func operatorKey(body []byte) (string, bool) {
	return findKey(body, func(k string) bool { return k == "" || strings.HasPrefix(k, "$") || strings.Contains(k, ".") })
}

// holdsNull reports whether the body's first JSON value holds a null at
// any depth.
func holdsNull(body []byte) bool {
	var v any
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case nil:
			return true
		case map[string]any:
			for _, inner := range v {
				if walk(inner) {
					return true
				}
			}
		case []any:
			return slices.ContainsFunc(v, walk)
		}
		return false
	}
	return walk(v)
}

// findKey returns a key at any depth of the body's first JSON value that
// matches.
func findKey(body []byte, match func(string) bool) (string, bool) {
	var v any
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
		return "", false
	}
	var walk func(any) (string, bool)
	walk = func(v any) (string, bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, inner := range v {
				if match(k) {
					return k, true
				}
				if key, ok := walk(inner); ok {
					return key, true
				}
			}
		case []any:
			for _, inner := range v {
				if key, ok := walk(inner); ok {
					return key, true
				}
			}
		}
		return "", false
	}
	return walk(v)
}
