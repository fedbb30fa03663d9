package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
)

func init() { register("api-baseline", runBaseline) }

// serveBaselineEnv, set in the environment of this binary's scenario
// child, makes it the bare server instead of the load generator.
const serveBaselineEnv = "BACKCARE_BENCH_SERVE_BASELINE"

// writeTarget is the share of the bare handler's throughput our write path
// must reach.
const writeTarget = 85.0

// runBaseline measures what the write path would cost with nothing of ours
// around it: a bare Fiber app whose one handler decodes the same body and
// inserts the same document through the same driver, into an engine of the
// same kind with the same data, indexes and pool cap. It runs, like the real
// server, as its own process owning its engine, and is driven by the same
// load generator at the same concurrency for the same time.
func runBaseline(ctx context.Context, env benchEnv) ([]row, error) {
	if os.Getenv(serveBaselineEnv) != "" {
		return nil, serveBaseline(ctx, env)
	}
	sizes := apiSizesFor(env)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-scenario", "api-baseline", "-out", filepath.Join(env.Dir, "server-rows.json")}
	if env.Quick {
		args = append(args, "-quick")
	}
	vars := []string{serveBaselineEnv + "=1"}
	if env.MongoURI != "" {
		vars = append(vars, "MONGODB_URI="+env.MongoURI)
	}
	srv, err := startServer(ctx, self, args, vars, false)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	client := newLoadClient(apiConcurrency)
	put := phoneCalls(make([]string, 1), time.Now())[0]
	drive(ctx, client, srv.baseURL, put, apiConcurrency, sizes.warmUp)
	res := drive(ctx, client, srv.baseURL, put, apiConcurrency, sizes.perCall)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if res.firstError != "" {
		fmt.Fprintf(os.Stderr, "api-baseline: %d errors, first: %s\n", res.errors, res.firstError)
	}
	peak, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	res.name = "bare insert handler"
	rows := append(res.rows(), row{Metric: "bare server peak RSS (incl. seeding)", Value: peak, Unit: "MB"})
	ours, err := readWriteThroughput(env)
	if err != nil {
		return nil, err
	}
	ratio := 100 * ours / res.throughput()
	return append(rows, row{Metric: "our write path vs bare insert", Value: round(ratio, 1), Unit: "%"}.check(">=", writeTarget)), nil
}

// readWriteThroughput is the PUT throughput the api scenario measured just
// before, in this bench run: it must be recent and of the same size.
func readWriteThroughput(env benchEnv) (float64, error) {
	b, err := os.ReadFile(writeThroughputFile())
	if err != nil {
		return 0, fmt.Errorf("no write throughput from the api scenario (run it in the same bench run, before this one): %w", err)
	}
	var got struct {
		RPS   float64   `json:"rps"`
		Quick bool      `json:"quick"`
		At    time.Time `json:"at"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		return 0, err
	}
	if got.Quick != env.Quick || time.Since(got.At) > time.Hour {
		return 0, errors.New("the api scenario's write throughput is from another run; run api and api-baseline together")
	}
	return got.RPS, nil
}

// bareRequest has the fields the real PUT body has, decoded the same strict way.
type bareRequest struct {
	LoggedAt     string            `json:"logged_at"`
	Score        *int              `json:"score"`
	Areas        []models.BodyArea `json:"areas"`
	Stiffness    *int              `json:"stiffness"`
	SleepQuality *int              `json:"sleep_quality"`
	Stress       *int              `json:"stress"`
	Note         string            `json:"note"`
	RedFlags     []models.RedFlag  `json:"red_flags"`
}

// bareBaselinePatient owns every entry the bare handler writes: it has no
// accounts, so no token to take a patient from.
const bareBaselinePatient = "baseline-patient"

// serveBaseline seeds the same data as the api scenario, then serves the
// bare handler until the process is told to stop.
func serveBaseline(ctx context.Context, env benchEnv) error {
	dbName := "backcare"
	engineDir := filepath.Join(env.Dir, "db")
	if env.MongoURI != "" {
		dbName = "bench_baseline_" + randomHex(6)
		defer dropDatabase(env.MongoURI, dbName)
	}
	if _, err := seedAPIData(ctx, env.MongoURI, engineDir, dbName, apiSizesFor(env), time.Now()); err != nil {
		return err
	}
	uri := env.MongoURI
	opts := options.Client().SetServerSelectionTimeout(10 * time.Second).SetTimeout(30 * time.Second)
	if uri == "" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		engine, err := embedded.Start(ctx, engineDir, logger)
		if err != nil {
			return err
		}
		defer engine.Close()
		uri = engine.URI()
		opts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
	}
	client, err := mongo.Connect(opts.ApplyURI(uri))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	logs := client.Database(dbName).Collection(painLogsCollection)

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Put("/v1/pain-logs/:id", func(c *fiber.Ctx) error {
		var req bareRequest
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Score == nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		at, err := time.Parse(time.RFC3339Nano, req.LoggedAt)
		if err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		t := time.Now().UTC().Truncate(time.Millisecond)
		l := models.PainLog{
			ID: models.PainLogDocID(bareBaselinePatient, c.Params("id")), PatientID: bareBaselinePatient,
			LoggedAt: at.UTC().Truncate(time.Millisecond), LocalDate: at.UTC().Format(time.DateOnly), Score: *req.Score,
			Areas: req.Areas, Stiffness: req.Stiffness, SleepQuality: req.SleepQuality, Stress: req.Stress,
			Note: req.Note, RedFlags: req.RedFlags, CreatedAt: t, UpdatedAt: t,
		}
		if _, err := logs.InsertOne(c.UserContext(), l); err != nil {
			return c.SendStatus(fiber.StatusInternalServerError)
		}
		return c.Status(fiber.StatusCreated).JSON(l)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The same line the real server logs, which startServer waits for.
	fmt.Printf(`{"msg":"listening","addr":%q}`+"\n", ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	select {
	case <-ctx.Done():
		return app.ShutdownWithTimeout(10 * time.Second)
	case err := <-serveErr:
		return err
	}
}
