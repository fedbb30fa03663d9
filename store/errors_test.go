package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/backcare/backcare/models"
)

func TestMapErrTellsAnAbsentDatabaseFromASlowOne(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		code string
		says string
	}{
		{"no document", mongo.ErrNoDocuments, models.ErrNotFound, "pain log not found"},
		{"no server to select", topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}, models.ErrUnavailable, "cannot be reached"},
		{"topology closed", topology.ErrTopologyClosed, models.ErrUnavailable, "cannot be reached"},
		{"the request's deadline passed", fmt.Errorf("find: %w", context.DeadlineExceeded), models.ErrUnavailable, "took too long"},
		{"anything else", errors.New("boom"), models.ErrInternal, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := mapErr(tc.err, "pain log")
			if got := models.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			var appErr *models.Error
			if tc.says != "" && (!errors.As(err, &appErr) || !strings.Contains(appErr.Message, tc.says)) {
				t.Fatalf("message of %v does not say %q", err, tc.says)
			}
		})
	}
}
