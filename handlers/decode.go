package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// maxJSONDepth bounds nesting; no request body of ours is deeper than 4.
const maxJSONDepth = 8

// decodeBody decodes the JSON request body into dst strictly: the body must
// be one JSON object; unknown fields, wrong types, null values and keys that
// look like MongoDB operators ("$…") or dotted paths are refused with the
// field named. Bodies decode only into typed structs, so a body never
// becomes a filter, but an operator-looking key is a probe or a bug and is
// answered as such.
//
// null is refused because encoding/json would take it silently as "left
// out" in one field and as the zero value in another (a screening answer
// of null would be stored as "no"), and because a PATCH client may mean
// "clear it" by null where the API means "keep it". A field is left out by
// leaving it out.
func decodeBody(c *fiber.Ctx, dst any) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "send the body as application/json")
	}
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return invalid("body", "is required")
	}
	// encoding/json would take null as an empty request.
	if body[0] != '{' {
		return invalid("body", "must be a JSON object")
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body", "must hold a single JSON object")
	}
	return nil
}

// decodeError names the field a json decoding error is about.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "is not valid JSON")
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			return invalid("body", "must be a JSON object")
		}
		return invalid(field, "must be %s", jsonKind(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "is not a field of this request")
	default:
		return invalid("body", "is not valid JSON")
	}
}

// jsonPath drops from a decoding error's field path the Go names of
// embedded structs (camelCase), leaving the snake_case JSON keys the client sent.
func jsonPath(path string) string {
	var keys []string
	for _, k := range strings.Split(path, ".") {
		if k != "" && !(unicode.IsLower(rune(k[0])) && strings.ContainsFunc(k, unicode.IsUpper)) {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ".")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// checkKeys walks the JSON body and refuses keys that start with "$" or
// contain ".", naming the field that holds them, null values, naming their
// field (an array's element is named as its array), and bodies nested too
// deep.
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		key    string
	}
	var stack []frame
	expectKey := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalid("body", "is not valid JSON")
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				if len(stack) >= maxJSONDepth {
					return invalid("body", "is nested too deeply")
				}
				stack = append(stack, frame{object: v == '{'})
				expectKey = v == '{'
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if expectKey {
				if v == "" || strings.HasPrefix(v, "$") || strings.Contains(v, ".") {
					var names []string
					for _, f := range stack[:len(stack)-1] {
						if f.key != "" {
							names = append(names, f.key)
						}
					}
					switch {
					case len(names) == 0 && v == "":
						names = []string{"body"}
					case len(names) == 0:
						names = []string{v}
					}
					return invalid(strings.Join(names, "."), "must not contain empty keys, keys that start with $ or keys with a dot")
				}
				stack[len(stack)-1].key = v
				expectKey = false
				continue
			}
		case nil:
			if len(stack) == 0 {
				return invalid("body", "must hold a single JSON object")
			}
			var names []string
			for _, f := range stack {
				if f.object && f.key != "" {
					names = append(names, f.key)
				}
			}
			return invalid(strings.Join(names, "."), "must not be null; leave the field out instead")
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1].object
	}
}

func invalid(field, format string, args ...any) error {
	return &models.Error{Code: models.ErrInvalid, Message: "the request has invalid fields",
		Fields: []models.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// writeJSON writes v as the response body with the given content type.
func writeJSON(c *fiber.Ctx, v any, contentType string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentType)
	return c.Send(b)
}
