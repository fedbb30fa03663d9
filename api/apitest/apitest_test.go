package apitest

import (
	"strings"
	"testing"
)

func TestUnlistedNamesOnlyStatusesTheSpecLeavesOut(t *testing.T) {
	text := strings.Join([]string{
		"# HELP backcare_http_requests_total HTTP requests by route, method and status.",
		"# TYPE backcare_http_requests_total counter",
		`backcare_http_requests_total{method="GET",route="/healthz",status="200"} 3`,
		`backcare_http_requests_total{method="GET",route="/v1/pain-logs/:id",status="404"} 1`,
		`backcare_http_requests_total{method="GET",route="/v1/pain-logs/:id",status="418"} 2`,
		`backcare_http_requests_total{method="GET",route="/",status="404"} 5`,
		`backcare_http_requests_total{method="PUT",route="/v1/me",status="405"} 1`,
		`backcare_http_request_duration_seconds_count{method="GET",route="/healthz"} 3`,
	}, "\n")
	answered := FromText(text)
	if len(answered) != 5 {
		t.Fatalf("read %d answers from the metrics, want 5: %+v", len(answered), answered)
	}
	lines, err := Unlisted(answered)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "GET /v1/pain-logs/{id} answered 418 (2 times),") {
		t.Fatalf("unlisted: %q", lines)
	}
}

func TestResponsesReadsEveryOperation(t *testing.T) {
	ops, err := Responses()
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) < 30 {
		t.Fatalf("read %d operations", len(ops))
	}
	for op, keys := range ops {
		if len(keys) == 0 {
			t.Errorf("%s lists no responses", op)
		}
	}
	if !lists([]string{"200", "4XX"}, 429) || lists([]string{"200", "404"}, 400) || !lists([]string{"default"}, 503) {
		t.Fatal("lists misreads response keys")
	}
}
