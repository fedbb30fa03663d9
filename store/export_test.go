package store

// SetAfterMarkers makes s run f between taking write markers and making
// the write they were taken for; an error from f stops there, as a crash
// between the two would.
func SetAfterMarkers(s *Store, f func(ids []string) error) { s.afterMarkers = f }
