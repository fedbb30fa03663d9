package notifications

import (
	"golang.org/x/text/language"

	"github.com/backcare/backcare/models"
)

// fallbackLocale is the language every kind has a text in.
const fallbackLocale = "en"

type textKey struct {
	kind    models.ReminderKind
	variant string
}

type text struct {
	title, body string
}

// texts holds the push texts per base language. A push is shown on a lock
// screen, so no text may carry a health detail: no scores, conditions, body
// areas, names or anything the patient typed — only what every patient of
// the app would be told.
var texts = map[string]map[textKey]text{
	"en": {
		{models.KindHydrationBefore, ""}: {
			"Time for some water",
			"Have a glass of water before your massage today.",
		},
		{models.KindHydrationAfter, ""}: {
			"Keep drinking water",
			"Sipping water through the rest of today helps after your massage.",
		},
		{models.KindTakeItEasy, ""}: {
			"Take it easy",
			"Skip strenuous activity today and tomorrow. Walks and gentle stretches are fine.",
		},
		{models.KindHeatIce, ""}: {
			"Heat or ice",
			"Treat yourself to 20 minutes of heat or ice, whichever you prefer.",
		},
		{models.KindStretching, ""}: {
			"Time to stretch",
			"Take a few minutes for gentle stretching. Move slowly and stay comfortable.",
		},
		{models.KindSorenessCheckin, ""}: {
			"How are you feeling?",
			"Some soreness after a massage is normal and usually fades within 48 hours.",
		},
		{models.KindDailyCheckin, ""}: {
			"How is your back today?",
			"Take a moment to check in.",
		},
		{models.KindSessionUpcoming, models.VariantUpcomingDayBefore}: {
			"Massage tomorrow",
			"Your massage is tomorrow. Open the app for the details.",
		},
		{models.KindSessionUpcoming, models.VariantUpcomingHours}: {
			"Massage in 2 hours",
			"Your massage starts in about 2 hours.",
		},
		{models.KindBookNextSession, ""}: {
			"Time to book your next session",
			"Book your next massage when it suits you.",
		},
		{models.KindWeeklySummary, ""}: {
			"Your weekly summary is ready",
			"See how your week went.",
		},
		{models.KindQuestionnaireDue, ""}: {
			"A quick check-in",
			"Three short questions about your week help your care team see how you are doing.",
		},
		{models.KindCareUpdate, models.VariantCarePlan}: {
			"Your care plan was updated",
			"Your clinic updated your care plan. Open the app to see it.",
		},
		{models.KindCareUpdate, models.VariantCareSession}: {
			"A massage was booked for you",
			"Your clinic booked a massage for you. Open the app for the details.",
		},
		// Neither the text, nor who wrote it, nor which clinic: a lock
		// screen is no place for any of them.
		{models.KindMessage, ""}: {
			"New message",
			"You have a new message from your clinic",
		},
	},
}

// Text returns the title and body of the push for kind in locale, a BCP 47
// tag such as "de-DE". It falls back from the tag to its base language and
// then to English, text by text, so a partial translation still works.
// variant, the reminder's, picks one of a kind's texts (the 24 h and 2 h
// session_upcoming); kinds with one text ignore it. ok is false
// when no language has a text for kind and variant.
func Text(locale string, kind models.ReminderKind, variant string) (title, body string, ok bool) {
	for _, lang := range []string{baseLanguage(locale), fallbackLocale} {
		catalog := texts[lang]
		t, found := catalog[textKey{kind, variant}]
		if !found {
			t, found = catalog[textKey{kind, ""}]
		}
		if found {
			return t.title, t.body, true
		}
	}
	return "", "", false
}

// baseLanguage returns the base language of a BCP 47 tag ("de" for
// "de-DE"), or "" when the tag does not parse.
func baseLanguage(locale string) string {
	tag, err := language.Parse(locale)
	if err != nil {
		return ""
	}
	base, _ := tag.Base()
	return base.String()
}
