package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
)

func init() { register("api", runAPI) }

// apiConcurrency is how many phones wait on the server at once. Each sends
// its next request when the last is answered, so 16 keep both cores busy
// without queueing far past them.
const apiConcurrency = 16

// apiSizes is how much data the API scenario seeds and how long it drives each call.
type apiSizes struct {
	patients, days int
	perCall        time.Duration
	warmUp         time.Duration
}

func apiSizesFor(env benchEnv) apiSizes {
	if env.Quick {
		return apiSizes{patients: 100, days: 30, perCall: 3 * time.Second, warmUp: 500 * time.Millisecond}
	}
	return apiSizes{patients: 1000, days: 90, perCall: 12 * time.Second, warmUp: 2 * time.Second}
}

// benchPassword is every seeded patient's password; one sign-in through the
// API checks that the seeded accounts are real ones.
const benchPassword = "a long bench passphrase"

// Collection names the seeding writes to directly, in bulk: the store
// writes one document at a time, which would make seeding the slowest part.
const (
	patientsCollection = "patients"
	painLogsCollection = "pain_logs"
)

// runAPI measures the calls a phone makes against the real server binary.
//
// On the embedded default the server owns its engine, in its own process,
// as deployed: the data is seeded beforehand through a short-lived engine on
// the server's DATA_DIR, which is closed before the server starts. So the
// server's CPU and memory figures include the database it carries. With
// MONGODB_URI the data is seeded into a fresh database there and the server
// is pointed at it.
func runAPI(ctx context.Context, env benchEnv) ([]row, error) {
	sizes := apiSizesFor(env)
	now := time.Now()
	dataDir := filepath.Join(env.Dir, "data")
	dbName := "backcare"
	if env.MongoURI != "" {
		dbName = "bench_api_" + randomHex(6)
	}
	seedStart := time.Now()
	patients, err := seedAPIData(ctx, env.MongoURI, filepath.Join(dataDir, "db"), dbName, sizes, now)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	seeded := time.Since(seedStart)
	if env.MongoURI != "" {
		defer dropDatabase(env.MongoURI, dbName)
	}

	bin, err := buildServer(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	secret := randomHex(32)
	vars := []string{"DATA_DIR=" + dataDir, "JWT_SECRET=" + secret, "MONGODB_DATABASE=" + dbName,
		// Dispatch is measured on its own; here it would only add a tick.
		"DISPATCH_INTERVAL=1h"}
	if env.MongoURI != "" {
		vars = append(vars, "MONGODB_URI="+env.MongoURI)
	}
	srv, err := startServer(ctx, bin, nil, vars, true)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	signer, err := auth.NewSigner([]byte(secret))
	if err != nil {
		return nil, err
	}
	client := newLoadClient(apiConcurrency)
	if err := signIn(ctx, client, srv.baseURL, patients[0].Email); err != nil {
		return nil, err
	}
	// Sign-in is limited per address (and argon2id costs ~50 ms on purpose),
	// so the rest of the tokens are issued with the server's key, as a
	// sign-in would issue them.
	tokens := make([]string, len(patients))
	for i, p := range patients {
		if tokens[i], err = signer.Issue(p.ID, models.AudiencePatient, now); err != nil {
			return nil, err
		}
	}
	// Resetting the peak makes it the resident memory now; what it reaches
	// after the load is the load's own.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.cmd.Process.Pid), []byte("5"), 0); err != nil {
		return nil, fmt.Errorf("reset the server's peak memory: %w", err)
	}
	idleRSS, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}

	rows := []row{
		{Metric: "seeding (info)", Value: round(seeded.Seconds(), 1), Unit: "s"},
		{Metric: "seeded patients x days", Value: float64(sizes.patients * sizes.days), Unit: "pain logs"},
		{Metric: "concurrency", Value: apiConcurrency, Unit: "clients"},
		{Metric: "server RSS after start (planning done)", Value: idleRSS, Unit: "MB"},
	}
	calls := phoneCalls(tokens, now)
	// One warm-up opens the connections and fills the engine's caches.
	drive(ctx, client, srv.baseURL, calls[0], apiConcurrency, sizes.warmUp)
	var results []loadResult
	for _, call := range calls {
		// What one phone waits for when nobody else is asking, then the
		// same call under load. The write comes first: a read the server
		// gave up on at its request deadline may still run in the engine
		// for a while, and would slow what follows it.
		alone := drive(ctx, client, srv.baseURL, call, 1, 0)
		res := drive(ctx, client, srv.baseURL, call, apiConcurrency, sizes.perCall)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if res.firstError != "" {
			fmt.Fprintf(os.Stderr, "api: %s: %d errors, first: %s\n", call.name, res.errors, res.firstError)
		}
		results = append(results, res)
		rows = append(rows,
			row{Metric: call.name + " latency, one client", Value: ms(percentile(alone.latencies, 100)), Unit: "ms"},
			row{Metric: call.name + " errors, one client", Value: float64(alone.errors), Unit: "requests"}.check("<=", 0))
		rows = append(rows, res.rows()...)
	}
	peak, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{Metric: "server peak RSS under load", Value: peak, Unit: "MB"})
	if err := writeWriteThroughput(env, results[0]); err != nil {
		return nil, err
	}
	return rows, nil
}

// painLogBody is what a phone sends to log pain, here and to the baseline.
func painLogBody(at time.Time, score int) []byte {
	return fmt.Appendf(nil, `{"logged_at":%q,"score":%d,"areas":["lower_back","hips"],"stiffness":4,"sleep_quality":6,"note":"after a long drive"}`,
		at.UTC().Format(time.RFC3339), score)
}

// phoneCalls are the four calls the app makes most: log today's pain, show
// the last 30 days, show progress, show upcoming reminders. Workers take
// patients in turn, so every call reads a different patient's data.
func phoneCalls(tokens []string, now time.Time) []loadCall {
	patientOf := func(worker, n int) string { return tokens[(n*apiConcurrency+worker)%len(tokens)] }
	today := now.UTC().Format(time.DateOnly)
	monthAgo := now.UTC().AddDate(0, 0, -29).Format(time.DateOnly)
	get := func(name, path string) loadCall {
		return loadCall{name: name, next: func(w, n int) (string, string, string, []byte) {
			return http.MethodGet, path, patientOf(w, n), nil
		}}
	}
	return []loadCall{
		{name: "PUT /v1/pain-logs/{id}", next: func(w, n int) (string, string, string, []byte) {
			return http.MethodPut, "/v1/pain-logs/" + uuid.NewString(), patientOf(w, n), painLogBody(now, n%11)
		}},
		get("GET /v1/pain-logs (30 days)", "/v1/pain-logs?from="+monthAgo+"&to="+today),
		get("GET /v1/insights", "/v1/insights"),
		get("GET /v1/reminders", "/v1/reminders"),
	}
}

// writeThroughputFile is where the API scenario leaves its write throughput
// for the baseline scenario, which runs next in the same bench run.
func writeThroughputFile() string { return filepath.Join(resultsDir, "api-write-throughput.json") }

// writeWriteThroughput records the write path's throughput for api-baseline.
func writeWriteThroughput(env benchEnv, put loadResult) error {
	b, err := json.Marshal(map[string]any{"rps": put.throughput(), "quick": env.Quick, "at": time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(writeThroughputFile(), b, 0o644)
}

// seedAPIData writes the patients and their daily pain logs, in bulk.
func seedAPIData(ctx context.Context, uri, engineDir, dbName string, sizes apiSizes, now time.Time) ([]models.Patient, error) {
	db, closeDB, err := openSeedDatabase(ctx, uri, engineDir, dbName)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	hash, err := auth.HashPassword(benchPassword, auth.DefaultParams)
	if err != nil {
		return nil, err
	}
	zones := []string{"America/Edmonton", "Europe/Berlin", "America/New_York", "Australia/Sydney"}
	rng := mrand.New(mrand.NewPCG(1, 2))
	patients := make([]models.Patient, sizes.patients)
	docs := make([]any, sizes.patients)
	for i := range patients {
		p := models.NewPatient(uuid.NewString(), fmt.Sprintf("patient%04d@bench.example", i), "Patient "+strconv.Itoa(i),
			zones[i%len(zones)], now.AddDate(0, 0, -sizes.days-1))
		p.PasswordHash = hash
		patients[i], docs[i] = p, p
	}
	if err := insertChunks(ctx, db.Collection(patientsCollection), docs); err != nil {
		return nil, err
	}
	var logs []any
	for _, p := range patients {
		loc := p.Location()
		for d := 1; d <= sizes.days; d++ {
			at := now.AddDate(0, 0, -d).Add(time.Duration(rng.IntN(12*60)-6*60) * time.Minute)
			stiffness := rng.IntN(11)
			logs = append(logs, models.PainLog{
				ID: models.PainLogDocID(p.ID, uuid.NewString()), PatientID: p.ID,
				LoggedAt: at.UTC().Truncate(time.Millisecond), LocalDate: models.LocalDateOf(at, loc),
				Score: rng.IntN(11), Areas: []models.BodyArea{"lower_back"}, Stiffness: &stiffness,
				CreatedAt: at.UTC().Truncate(time.Millisecond), UpdatedAt: at.UTC().Truncate(time.Millisecond),
			})
		}
	}
	return patients, insertChunks(ctx, db.Collection(painLogsCollection), logs)
}

// insertChunks inserts docs a thousand at a time.
func insertChunks(ctx context.Context, col *mongo.Collection, docs []any) error {
	for start := 0; start < len(docs); start += 1000 {
		if _, err := col.InsertMany(ctx, docs[start:min(start+1000, len(docs))]); err != nil {
			return fmt.Errorf("insert into %s: %w", col.Name(), err)
		}
	}
	return nil
}

// openSeedDatabase opens dbName with the store's indexes: on MongoDB, or on
// an embedded engine in engineDir that the returned func closes, leaving
// its files for the server.
func openSeedDatabase(ctx context.Context, uri, engineDir, dbName string) (*mongo.Database, func(), error) {
	var engine *embedded.Engine
	opts := options.Client().SetServerSelectionTimeout(10 * time.Second).SetTimeout(5 * time.Minute)
	if uri == "" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		var err error
		if engine, err = embedded.Start(ctx, engineDir, logger); err != nil {
			return nil, nil, err
		}
		uri = engine.URI()
		opts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
	}
	closeAll := func() {}
	client, err := mongo.Connect(opts.ApplyURI(uri))
	if err == nil {
		closeAll = func() {
			_ = client.Disconnect(context.Background())
			if engine != nil {
				_ = engine.Close()
			}
		}
		db := client.Database(dbName)
		if err = store.New(db).EnsureIndexes(ctx); err == nil && engine != nil {
			err = engine.IndexIDs(ctx, dbName)
		}
		if err == nil {
			return db, closeAll, nil
		}
	} else if engine != nil {
		_ = engine.Close()
	}
	closeAll()
	return nil, nil, err
}

// dropDatabase removes a database the scenario made on MongoDB.
func dropDatabase(uri, name string) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return
	}
	defer client.Disconnect(context.Background())
	_ = client.Database(name).Drop(context.Background())
}

// serverBinEnv names the server binary the runner built once, so that no
// scenario's memory and CPU figures include the compiler's.
const serverBinEnv = "BACKCARE_BENCH_SERVER"

// buildServer returns the runner's server binary, or builds ./cmd/server
// into dir the way `make build` and the Dockerfile do: a stripped binary
// maps fewer pages, and memory is one of the figures.
func buildServer(ctx context.Context, dir string) (string, error) {
	if bin := os.Getenv(serverBinEnv); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "backcare-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/server")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the server: %w\n%s", err, out)
	}
	return bin, nil
}

// serverProcess is a server binary running as a child process.
type serverProcess struct {
	cmd     *exec.Cmd
	baseURL string
	exited  chan struct{}
}

// startServer runs bin with args on a free port with the given environment
// and waits until it listens and, if waitForPlanning, until its start-up planning of
// reminders is done, so that it does not run under the load.
func startServer(ctx context.Context, bin string, args, vars []string, waitForPlanning bool) (*serverProcess, error) {
	cmd := exec.Command(bin, args...)
	// The metrics listener gets a free port too, so that servers running
	// side by side do not contend for the default one.
	cmd.Env = append([]string{"PORT=0", "METRICS_ADDR=127.0.0.1:0", "PATH=" + os.Getenv("PATH"), "LOG_LEVEL=info"}, vars...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &serverProcess{cmd: cmd, exited: make(chan struct{})}
	listening, planned := make(chan string, 1), make(chan struct{}, 1)
	go func() {
		defer close(srv.exited)
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(make([]byte, 64*1024), 1<<20)
		for scanner.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(scanner.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "listening":
				listening <- line.Addr
			case "reminders materialized":
				select {
				case planned <- struct{}{}:
				default:
				}
			}
		}
		// Keep reading until the server exits, so its log never blocks it.
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	timeout := time.After(5 * time.Minute)
	select {
	case addr := <-listening:
		_, port, _ := strings.Cut(addr[strings.LastIndex(addr, "]")+1:], ":")
		if port == "" {
			_, port, _ = strings.Cut(addr, ":")
		}
		srv.baseURL = "http://127.0.0.1:" + port
	case <-srv.exited:
		return nil, errors.New("the server exited before it listened")
	case <-timeout:
		srv.stop()
		return nil, errors.New("the server did not listen within 5 minutes")
	case <-ctx.Done():
		srv.stop()
		return nil, ctx.Err()
	}
	if !waitForPlanning {
		return srv, nil
	}
	select {
	case <-planned:
		return srv, nil
	case <-srv.exited:
		return nil, errors.New("the server exited while planning reminders")
	case <-timeout:
		srv.stop()
		return nil, errors.New("the server did not finish planning reminders within 5 minutes")
	case <-ctx.Done():
		srv.stop()
		return nil, ctx.Err()
	}
}

// stop asks the server to shut down as SIGTERM does in production, and
// kills it if it has not within a minute.
func (s *serverProcess) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// signIn signs one seeded patient in through the API.
func signIn(ctx context.Context, client *http.Client, baseURL, email string) error {
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
	if err := exchange(ctx, client, http.MethodPost, baseURL+"/v1/auth/login", "", body, nil); err != nil {
		return fmt.Errorf("sign in a seeded patient: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
