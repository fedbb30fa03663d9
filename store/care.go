package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// CreateScreening stores a completed questionnaire.
func (s *Store) CreateScreening(ctx context.Context, sc models.Screening) error {
	_, err := s.db.Collection(colScreenings).InsertOne(ctx, sc)
	return mapErr(err, "screening")
}

// LatestScreening returns the patient's most recent screening: the one that counts.
func (s *Store) LatestScreening(ctx context.Context, patientID string) (models.Screening, error) {
	var sc models.Screening
	err := s.db.Collection(colScreenings).FindOne(ctx, bson.D{{Key: "patient_id", Value: patientID}},
		options.FindOne().SetSort(bson.D{{Key: "taken_at", Value: -1}})).Decode(&sc)
	return sc, mapErr(err, "screening")
}

// SaveClearance writes the clearance recorded on a patient's screening.
func (s *Store) SaveClearance(ctx context.Context, sc models.Screening) error {
	res, err := s.db.Collection(colScreenings).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sc.ID}, {Key: "patient_id", Value: sc.PatientID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "clearance", Value: sc.Clearance}}}})
	if err != nil {
		return mapErr(err, "screening")
	}
	if res.MatchedCount == 0 {
		return models.Errorf(models.ErrNotFound, "screening not found")
	}
	return nil
}

// planDoc is a plan as stored. OpenKey is the patient id while the plan is
// not completed and the plan's own id afterwards; a unique index on it
// allows one open plan per patient without transactions or partial indexes.
type planDoc struct {
	models.Plan `bson:",inline"`
	OpenKey     string `bson:"open_key"`
}

func toPlanDoc(p models.Plan) planDoc {
	key := p.PatientID
	if p.Status == models.PlanCompleted {
		key = p.ID
	}
	return planDoc{Plan: p, OpenKey: key}
}

// CreatePlan stores a new plan; a patient with an open plan gets a conflict.
func (s *Store) CreatePlan(ctx context.Context, p models.Plan) error {
	_, err := s.db.Collection(colPlans).InsertOne(ctx, toPlanDoc(p))
	if models.ErrorCode(mapErr(err, "")) == models.ErrConflict {
		return models.Errorf(models.ErrConflict, "you already have a plan; change it, or complete it before starting another")
	}
	return mapErr(err, "plan")
}

// CurrentPlan returns the patient's plan that is not completed.
func (s *Store) CurrentPlan(ctx context.Context, patientID string) (models.Plan, error) {
	var d planDoc
	err := s.db.Collection(colPlans).FindOne(ctx, bson.D{{Key: "open_key", Value: patientID}}).Decode(&d)
	return d.Plan, mapErr(err, "plan")
}

// Plan returns one of a patient's plans.
func (s *Store) Plan(ctx context.Context, patientID, id string) (models.Plan, error) {
	var d planDoc
	err := s.findOwned(ctx, colPlans, patientID, id, &d, "plan")
	return d.Plan, err
}

// SavePlan replaces a plan if it is still at p.Version, the version it was
// read at, and returns it at the next version: two edits cannot silently
// overwrite each other (see change).
func (s *Store) SavePlan(ctx context.Context, p models.Plan) (models.Plan, error) {
	from := p.Version
	p.Version++
	err := s.replaceAt(ctx, colPlans, p.ID, from, bson.E{Key: "patient_id", Value: p.PatientID}, toPlanDoc(p),
		"the plan changed meanwhile; fetch it and try again")
	if err != nil {
		return models.Plan{}, err
	}
	return p, nil
}

// CreateSession stores a booked session.
func (s *Store) CreateSession(ctx context.Context, ss models.Session) error {
	_, err := s.db.Collection(colSessions).InsertOne(ctx, ss)
	return mapErr(err, "session")
}

// Session returns one of a patient's sessions; another patient's is not found.
func (s *Store) Session(ctx context.Context, patientID, id string) (models.Session, error) {
	var ss models.Session
	err := s.findOwned(ctx, colSessions, patientID, id, &ss, "session")
	return ss, err
}

// SaveSession replaces a session if it is still at ss.Version, the version
// it was read at, and returns it at the next version: of two requests
// completing one session, one wins and the other sees a stale conflict, so
// completion is recorded once.
func (s *Store) SaveSession(ctx context.Context, ss models.Session) (models.Session, error) {
	from := ss.Version
	ss.Version++
	err := s.replaceAt(ctx, colSessions, ss.ID, from, bson.E{Key: "patient_id", Value: ss.PatientID}, ss,
		"the session changed meanwhile; fetch it and try again")
	if err != nil {
		return models.Session{}, err
	}
	return ss, nil
}

// ListSessions returns sessions starting in [From, To), earliest first.
func (s *Store) ListSessions(ctx context.Context, q models.SessionQuery) ([]models.Session, error) {
	filter := bson.D{{Key: "patient_id", Value: q.PatientID}}
	if q.PlanID != "" {
		filter = append(filter, bson.E{Key: "plan_id", Value: q.PlanID})
	}
	filter = append(filter, bson.E{Key: "scheduled_at", Value: bson.D{{Key: "$gte", Value: q.From}, {Key: "$lt", Value: q.To}}})
	cur, err := s.db.Collection(colSessions).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "scheduled_at", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, mapErr(err, "sessions")
	}
	sessions := []models.Session{}
	return sessions, mapErr(cur.All(ctx, &sessions), "sessions")
}
