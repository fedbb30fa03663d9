package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CollectionSizes returns how many documents each collection of the
// database holds, as the server's metadata counts them (no scan).
func (s *Store) CollectionSizes(ctx context.Context) (map[string]int64, error) {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, mapErr(err, "collections")
	}
	sizes := make(map[string]int64, len(names))
	for _, name := range names {
		n, err := s.db.Collection(name).EstimatedDocumentCount(ctx)
		if err != nil {
			return nil, mapErr(err, name)
		}
		sizes[name] = n
	}
	return sizes, nil
}
