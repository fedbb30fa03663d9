package notifications

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/backcare/backcare/models"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// kindVariants lists every kind of the catalog with the variants it needs.
func kindVariants() []textKey {
	var keys []textKey
	for _, info := range models.Catalog {
		switch info.Kind {
		case models.KindSessionUpcoming:
			keys = append(keys, textKey{info.Kind, models.VariantUpcomingDayBefore}, textKey{info.Kind, models.VariantUpcomingHours})
			continue
		case models.KindCareUpdate:
			keys = append(keys, textKey{info.Kind, models.VariantCarePlan}, textKey{info.Kind, models.VariantCareSession})
			continue
		}
		keys = append(keys, textKey{info.Kind, ""})
	}
	return keys
}

func TestTextGolden(t *testing.T) {
	locales := make([]string, 0, len(texts))
	for lang := range texts {
		locales = append(locales, lang)
	}
	slices.Sort(locales)
	var b strings.Builder
	for _, lang := range locales {
		for _, k := range kindVariants() {
			title, body, ok := Text(lang, k.kind, k.variant)
			if !ok {
				t.Errorf("%s %s %q: no text", lang, k.kind, k.variant)
			}
			name := string(k.kind)
			if k.variant != "" {
				name += "/" + k.variant
			}
			fmt.Fprintf(&b, "%s %s\n  title: %s\n  body:  %s\n", lang, name, title, body)
		}
	}
	path := filepath.Join("testdata", "messages.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("texts differ from %s (run go test -update after checking them):\n%s", path, got)
	}
}

// TestTextHasNoHealthDetails guards the lock screen: a push must not reveal
// a score, a condition, a body area or anything the patient wrote. "back"
// alone is allowed: every patient of the app is asked about their back.
func TestTextHasNoHealthDetails(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)\d\s*/\s*10|\bpain\b|\bscores?\b|` +
		`cancer|thrombosis|dvt|clot|osteoporosis|fracture|surgery|infection|skin|heart|` +
		`blood pressure|\bnumb|bladder|bowel|fever|tingl|weakness|red flag|contraindicat|` +
		`lower back|upper back|\b(necks?|shoulders?|hips?|legs?)\b|` +
		`[%{}<>$]|\bname\b|\bnote\b`)
	for lang, catalog := range texts {
		for key, tx := range catalog {
			for _, s := range []string{tx.title, tx.body} {
				if m := forbidden.FindString(s); m != "" {
					t.Errorf("%s %s %q: %q contains %q", lang, key.kind, key.variant, s, m)
				}
			}
		}
	}
	if m := forbidden.FindString("Your pain score was 7/10"); m == "" {
		t.Fatal("the pattern misses a plain score")
	}
}

func TestTextFallsBack(t *testing.T) {
	enTitle, enBody, _ := Text("en", models.KindTakeItEasy, "")
	for _, c := range []struct {
		locale, kind, variant string
		wantOK                bool
	}{
		{"en-GB", string(models.KindTakeItEasy), "", true},
		{"de-DE", string(models.KindTakeItEasy), "", true},
		{"de_DE", string(models.KindTakeItEasy), "", true},
		{"", string(models.KindTakeItEasy), "", true},
		{"not a tag", string(models.KindTakeItEasy), "", true},
		{"en", string(models.KindTakeItEasy), "no_such_variant", true},
		{"en", string(models.KindSessionUpcoming), "", false},
		{"en", "no_such_kind", "", false},
	} {
		title, body, ok := Text(c.locale, models.ReminderKind(c.kind), c.variant)
		if ok != c.wantOK {
			t.Errorf("Text(%q, %s, %q) ok = %v, want %v", c.locale, c.kind, c.variant, ok, c.wantOK)
			continue
		}
		if ok && (title != enTitle || body != enBody) {
			t.Errorf("Text(%q, %s, %q) = %q, %q; want the English text", c.locale, c.kind, c.variant, title, body)
		}
	}

	texts["de"] = map[textKey]text{{models.KindTakeItEasy, ""}: {"Ruhig angehen", "Heute und morgen nichts Anstrengendes."}}
	t.Cleanup(func() { delete(texts, "de") })
	if title, _, _ := Text("de-AT", models.KindTakeItEasy, ""); title != "Ruhig angehen" {
		t.Errorf("de-AT take_it_easy = %q, want the German text", title)
	}
	if title, _, _ := Text("de-AT", models.KindHeatIce, ""); title != texts["en"][textKey{models.KindHeatIce, ""}].title {
		t.Errorf("de-AT heat_ice = %q, want the English text where German has none", title)
	}

	dayTitle, _, _ := Text("fr-CA", models.KindSessionUpcoming, models.VariantUpcomingDayBefore)
	soonTitle, _, _ := Text("fr-CA", models.KindSessionUpcoming, models.VariantUpcomingHours)
	if !strings.Contains(dayTitle, "tomorrow") || !strings.Contains(soonTitle, "2 hours") || dayTitle == soonTitle {
		t.Errorf("session_upcoming titles %q and %q do not tell the day before from two hours before", dayTitle, soonTitle)
	}
}

func TestBaseLanguage(t *testing.T) {
	for in, want := range map[string]string{"en": "en", "de-DE": "de", "DE-de": "de", "zh-Hant-TW": "zh", "pt_BR": "pt", "???": ""} {
		if got := baseLanguage(in); got != want {
			t.Errorf("baseLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}
