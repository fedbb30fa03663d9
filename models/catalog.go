package models

import "time"

// ReminderKind names one kind of reminder in the aftercare catalog.
type ReminderKind string

// The reminder catalog (DESIGN.md). Event kinds are timed from a session;
// daily kinds fire at the patient's preferred local time of day.
const (
	KindHydrationBefore ReminderKind = "hydration_before"
	KindHydrationAfter  ReminderKind = "hydration_after"
	KindTakeItEasy      ReminderKind = "take_it_easy"
	KindHeatIce         ReminderKind = "heat_ice"
	KindStretching      ReminderKind = "stretching"
	KindSorenessCheckin ReminderKind = "soreness_checkin"
	KindDailyCheckin    ReminderKind = "daily_checkin"
	KindSessionUpcoming ReminderKind = "session_upcoming"
	KindBookNextSession ReminderKind = "book_next_session"
	KindWeeklySummary   ReminderKind = "weekly_summary"
	// KindQuestionnaireDue asks the patient to answer the PEG-3: weekly,
	// and the day before a session, unless a recent answer covers it.
	KindQuestionnaireDue ReminderKind = "questionnaire_due"
	// KindCareUpdate tells the patient their clinic changed their plan or
	// booked a session: a one-off, sent as soon as quiet hours allow.
	KindCareUpdate ReminderKind = "care_update"
	// KindMessage tells the patient their clinic wrote to them: one push
	// per conversation until it is sent, never with a word of the message.
	KindMessage ReminderKind = "message"
)

// KindInfo describes how a kind is scheduled and what a patient may set for it.
type KindInfo struct {
	Kind ReminderKind
	// DefaultTime is the default local time of day ("HH:MM") for kinds that
	// fire at a time the patient chooses; empty for kinds timed from a session.
	DefaultTime string
	// Weekly kinds also take a preferred weekday.
	Weekly         bool
	DefaultWeekday time.Weekday
}

// HasTimeOfDay reports whether the patient chooses when this kind fires.
func (k KindInfo) HasTimeOfDay() bool { return k.DefaultTime != "" }

// Catalog lists every reminder kind in a stable order.
var Catalog = []KindInfo{
	{Kind: KindHydrationBefore},
	{Kind: KindHydrationAfter},
	{Kind: KindTakeItEasy},
	{Kind: KindHeatIce, DefaultTime: "19:30"},
	{Kind: KindStretching, DefaultTime: "18:00"},
	{Kind: KindSorenessCheckin},
	{Kind: KindDailyCheckin, DefaultTime: "19:00"},
	{Kind: KindSessionUpcoming},
	{Kind: KindBookNextSession, DefaultTime: "10:00"},
	{Kind: KindWeeklySummary, DefaultTime: "18:00", Weekly: true, DefaultWeekday: time.Sunday},
	// Sunday morning: the PEG asks about the past week, and the weekly
	// summary comes that evening.
	{Kind: KindQuestionnaireDue, DefaultTime: "10:00", Weekly: true, DefaultWeekday: time.Sunday},
	{Kind: KindCareUpdate},
	{Kind: KindMessage},
}

// LookupKind returns the catalog entry for kind.
func LookupKind(kind ReminderKind) (KindInfo, bool) {
	for _, k := range Catalog {
		if k.Kind == kind {
			return k, true
		}
	}
	return KindInfo{}, false
}
