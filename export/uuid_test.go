package export

import (
	"regexp"
	"testing"
)

func TestNameUUID(t *testing.T) {
	// Computed independently: Python's uuid.uuid5(uuid.NAMESPACE_URL, name).
	const name, want = "https://api.backcare.example/patients/p1", "3aaec369-9091-564f-af15-07e08793f81f"
	if got := nameUUID(name); got != want {
		t.Errorf("nameUUID(%q) = %s, want %s", name, got, want)
	}
	version5 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, n := range []string{"", "a", "https://api.backcare.example/sessions/s1"} {
		if u := nameUUID(n); !version5.MatchString(u) {
			t.Errorf("nameUUID(%q) = %s, not a version 5 UUID", n, u)
		}
	}
	if nameUUID("a") == nameUUID("b") {
		t.Error("two names gave the same UUID")
	}
}
