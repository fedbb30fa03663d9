package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CollectionSizes returns how many documents each collection that the
// store lists holds, as the server's metadata counts them (no scan). The
// write markers are left out: they are only ever read by _id, which every
// engine indexes, and they are kept for a day only.
func (s *Store) CollectionSizes(ctx context.Context) (map[string]int64, error) {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, mapErr(err, "collections")
	}
	sizes := make(map[string]int64, len(names))
	for _, name := range names {
		if name == colMarkers {
			continue
		}
		n, err := s.db.Collection(name).EstimatedDocumentCount(ctx)
		if err != nil {
			return nil, mapErr(err, name)
		}
		sizes[name] = n
	}
	return sizes, nil
}
