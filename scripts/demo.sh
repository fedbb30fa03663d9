#!/usr/bin/env bash
# See reminders work: against a server started with `make run` (in another
# terminal), sign a patient up, register a phone, book and complete a
# massage that ended half an hour ago, and watch that terminal: within one
# dispatch interval (10 s) the FCM fake logs the first aftercare pushes
# ("push (FCM fake)": keep drinking water, take it easy).
set -euo pipefail
base=${BASE_URL:-http://localhost:8080}
email="demo-$(date +%s)@example.com"
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
call() { # method path [body]
  curl -fsS -X "$1" "$base$2" -H "authorization: Bearer ${access:-}" -H 'content-type: application/json' ${3:+-d "$3"}
}

access=$(call POST /v1/auth/register \
  "{\"email\":\"$email\",\"password\":\"a long demo passphrase\",\"name\":\"Demo\",\"timezone\":\"UTC\"}" | json access_token)
echo "registered $email"
# No quiet hours for the demo, so pushes arrive whatever the time of day.
call PATCH /v1/me '{"quiet_hours":{"start":"00:00","end":"00:00"}}' >/dev/null
call POST /v1/devices '{"token":"demo-device-token-0123456789abcdefghij","platform":"android","app_version":"1.0.0"}' >/dev/null
echo "registered a device"
answers=$(python3 -c 'import json; print(json.dumps({"answers": {k: False for k in ["blood_clotting_disorder","heart_condition","recent_surgery","recent_fracture","severe_osteoporosis","infection_or_skin_condition","active_cancer","uncontrolled_blood_pressure","deep_vein_thrombosis"]}}))')
call POST /v1/screening "$answers" >/dev/null
call POST /v1/plans '{}' >/dev/null
echo "screened (all no) and started a plan"
started=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)-d.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
session=$(call POST /v1/sessions "{\"scheduled_at\":\"$started\",\"duration_minutes\":60}" | json id)
call POST "/v1/sessions/$session/complete" '{"pressure_felt":3,"soreness_after":4}' >/dev/null
echo "completed a 60-minute session that started at $started"
echo "aftercare planned:"
call GET /v1/reminders | python3 -c '
import json, sys
for r in json.load(sys.stdin)["items"]:
    if r.get("session_id"):
        print("  %-18s due %s  %s" % (r["kind"], r["due_at"], r["status"]))'
echo "watch the server log for \"push (FCM fake)\" lines within ${DISPATCH_INTERVAL:-10s}"
