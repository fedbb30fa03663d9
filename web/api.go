package web

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

// apiClient sends a form's change to the clinic API in process: a request
// built here goes through the API's own routes, middleware, authorization,
// validation and audit, as the signed-in staff member, and never leaves
// the process. Its access token is minted for that one request.
type apiClient struct {
	// api is the app's request handler, taken once its routes are all
	// added: asking the app for it on every call would take the app's lock.
	api    fasthttp.RequestHandler
	signer *auth.Signer
	now    func() time.Time
}

// apiReply is what the API answered.
type apiReply struct {
	status  int
	body    []byte
	etag    string
	problem struct {
		Detail string              `json:"detail"`
		Code   string              `json:"code"`
		Errors []models.FieldError `json:"errors"`
	}
}

func (r apiReply) ok() bool { return r.status >= 200 && r.status < 300 }

// call sends method path with body as JSON (none when nil) for staff
// member staffID ("" for the sign-in routes), with If-Match ifMatch when
// it is set. The browser's address and forwarding header go along, so that
// the API's per-address limits count the therapist's browser; so does the
// request id, so that both log lines tell one story.
func (a apiClient) call(c *fiber.Ctx, staffID, method, path string, body any, ifMatch string) (apiReply, error) {
	var reply apiReply
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.Set(fiber.HeaderXRequestID, c.GetRespHeader(fiber.HeaderXRequestID))
	if xff := c.Get(fiber.HeaderXForwardedFor); xff != "" {
		req.Header.Set(fiber.HeaderXForwardedFor, xff)
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply, fmt.Errorf("encode the API request: %w", err)
		}
		req.Header.SetContentType(fiber.MIMEApplicationJSON)
		req.SetBody(b)
	}
	if ifMatch != "" {
		req.Header.Set(fiber.HeaderIfMatch, ifMatch)
	}
	if staffID != "" {
		token, err := a.signer.Issue(staffID, models.AudienceStaff, a.now().UTC().Truncate(time.Millisecond))
		if err != nil {
			return reply, err
		}
		req.Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
	}
	var rc fasthttp.RequestCtx
	rc.Init(req, remoteAddr(c), nil)
	a.api(&rc)
	reply.status = rc.Response.StatusCode()
	reply.body = append([]byte(nil), rc.Response.Body()...)
	reply.etag = string(rc.Response.Header.Peek(fiber.HeaderETag))
	if !reply.ok() {
		_ = json.Unmarshal(reply.body, &reply.problem)
	}
	return reply, nil
}

// remoteAddr is the browser's address, as the API would see it.
func remoteAddr(c *fiber.Ctx) net.Addr {
	if a, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		return a
	}
	return &net.TCPAddr{IP: c.Context().RemoteIP()}
}

// decode reads a successful reply's body into dst.
func (r apiReply) decode(dst any) error {
	if err := json.Unmarshal(r.body, dst); err != nil {
		return fmt.Errorf("decode the API's answer: %w", err)
	}
	return nil
}
