package models

import "time"

// window returns the quiet hours as minutes after local midnight, and false
// when there are none: Start == End, or a value that does not parse (both
// are validated when stored, so that is a corrupt record, which should not
// silence a patient's reminders).
func (q QuietHours) window() (start, end int, ok bool) {
	start, err := ParseTimeOfDay(q.Start)
	if err != nil {
		return 0, 0, false
	}
	end, err = ParseTimeOfDay(q.End)
	if err != nil || start == end {
		return 0, 0, false
	}
	return start, end, true
}

// Contains reports whether the local wall clock in loc at t is inside the
// quiet hours [Start, End). The window may cross midnight (21:00–08:00);
// Start == End means there are no quiet hours. During a fall-back change the
// repeated wall times are quiet each time they come round.
func (q QuietHours) Contains(t time.Time, loc *time.Location) bool {
	start, end, ok := q.window()
	if !ok {
		return false
	}
	h, m, _ := t.In(loc).Clock()
	minute := h*60 + m
	if start < end {
		return minute >= start && minute < end
	}
	return minute >= start || minute < end
}

// EndAfter returns the instant the quiet hours that contain t end: End on the
// local day t is in, or on the next when t is before midnight in a window
// that crosses it. An End that a spring-forward change skips moves forward by
// the gap (or, if that lands in the next quiet hours, to their end); one that
// a fall-back change repeats is the first instance after t.
// A t outside quiet hours is returned as it is.
func (q QuietHours) EndAfter(t time.Time, loc *time.Location) time.Time {
	if !q.Contains(t, loc) {
		return t
	}
	start, end, _ := q.window()
	day := civilDay(t, loc)
	if h, m, _ := t.In(loc).Clock(); start > end && h*60+m >= start {
		day = day.AddDate(0, 0, 1)
	}
	first, last := wallClockInstances(day, end, loc)
	until := last
	if first.After(t) {
		until = first
	}
	// A spring-forward change can skip End together with the open time
	// after it when that is shorter than the gap (03:00–02:30 loses
	// 02:30–03:00): the clock then runs straight into the next quiet hours,
	// and the reminder waits for their end.
	if until.After(t) && q.Contains(until, loc) {
		return q.EndAfter(until, loc)
	}
	return until
}

// ApplyQuietHours returns when a reminder due at due may be sent in loc: due
// itself, or the end of the quiet hours it falls in. ok is false when that is
// not before expires: the reminder should expire rather than arrive when it
// is no longer of use.
func ApplyQuietHours(due, expires time.Time, q QuietHours, loc *time.Location) (send time.Time, ok bool) {
	send = q.EndAfter(due, loc)
	return send, send.Before(expires)
}
