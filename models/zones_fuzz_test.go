package models_test

import (
	"archive/zip"
	"hash/fnv"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz targets of this package draw their time zones from every name in
// the tz database that Go ships, and their instants from 1900–2199, which
// covers the tables' historical oddities and their rule-based future.

var (
	zonesOnce sync.Once
	zoneNames []string
	zonesErr  error
)

// tzNames returns every zone name in Go's copy of the tz database
// ($GOROOT/lib/time/zoneinfo.zip, the same data as time/tzdata).
func tzNames(tb testing.TB) []string {
	tb.Helper()
	zonesOnce.Do(func() {
		var out []byte
		if out, zonesErr = exec.Command("go", "env", "GOROOT").Output(); zonesErr != nil {
			return
		}
		var r *zip.ReadCloser
		if r, zonesErr = zip.OpenReader(filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip")); zonesErr != nil {
			return
		}
		defer r.Close()
		for _, f := range r.File {
			if !f.FileInfo().IsDir() {
				zoneNames = append(zoneNames, f.Name)
			}
		}
		slices.Sort(zoneNames)
	})
	if zonesErr != nil {
		tb.Fatalf("listing the tz database: %v", zonesErr)
	}
	if len(zoneNames) < 400 {
		tb.Fatalf("the tz database lists %d zones; expected several hundred", len(zoneNames))
	}
	return zoneNames
}

// fuzzZone turns a fuzzed string into a zone: the zone of that name when
// there is one, so that seeds read as names, and otherwise a zone picked by
// the string's hash, so that every input exercises a real zone.
func fuzzZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	names := tzNames(tb)
	if _, found := slices.BinarySearch(names, name); !found {
		h := fnv.New32a()
		h.Write([]byte(name))
		name = names[h.Sum32()%uint32(len(names))]
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("zone %q is in the tz database but does not load: %v", name, err)
	}
	return loc
}

var (
	fuzzEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	fuzzSpan  = int64(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Sub(fuzzEpoch) / time.Second)
)

// fuzzInstant maps any int64 onto a whole second in 1900–2199.
func fuzzInstant(sec int64) time.Time {
	return fuzzEpoch.Add(time.Duration((sec%fuzzSpan+fuzzSpan)%fuzzSpan) * time.Second)
}

// seedInstant is the int64 that fuzzInstant maps to the RFC 3339 time s.
func seedInstant(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return int64(t.Sub(fuzzEpoch) / time.Second)
}

// hhmm formats minutes after midnight (taken modulo a day) as "HH:MM".
func hhmm(minutes uint16) string {
	m := minutes % (24 * 60)
	return time.Date(2000, 1, 1, int(m/60), int(m%60), 0, 0, time.UTC).Format("15:04")
}

// wallClock is t's local date and time in loc read as if it were UTC, so
// that two of them subtract to the difference the clock on the wall shows.
func wallClock(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	h, mi, s := t.In(loc).Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// wallTimeExists reports whether clocks in loc ever show minutes past
// midnight on date (a "YYYY-MM-DD").
func wallTimeExists(date string, minutes int, loc *time.Location) bool {
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err)
	}
	want := day.Add(time.Duration(minutes) * time.Minute)
	return wallClock(time.Date(day.Year(), day.Month(), day.Day(), 0, minutes, 0, 0, loc), loc).Equal(want)
}

// offset returns loc's UTC offset at t.
func offset(t time.Time, loc *time.Location) time.Duration {
	_, secs := t.In(loc).Zone()
	return time.Duration(secs) * time.Second
}
