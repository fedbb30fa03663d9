# BackCare: the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
PKGS     := ./...
# A package's tests must end well within this; the whole `make test` takes
# about four minutes on a 2-core machine.
TEST_TIMEOUT ?= 10m
# The long mode (make test-long) runs the scale sizes without the race
# detector; the three-dispatcher race alone sends 5,000 reminders.
LONG_TIMEOUT ?= 45m
# Test packages at once: the tests spend much of their time waiting on the
# engine's process, so more than the two cores keeps both busy.
TEST_PARALLEL ?= 4
# The embedded engine the tests talk to runs in a process of its own, built
# once here for every test package (store/storetest explains why).
TEST_ENGINE := $(CURDIR)/bin/test-engine
# How long each fuzz target runs: briefly in `make test`, longer in `make fuzz`.
FUZZTIME ?= 3s
FUZZTIME_LONG ?= 5m
GOVULNCHECK_VERSION := v1.8.0
# The offline copy of the Go vulnerability database beside the clone, when
# there is one; otherwise govulncheck asks vuln.go.dev.
VULNDB := ../shared/vulndb

.PHONY: run test test-long test-engine build vet fmt-check vuln fuzz-short fuzz docker demo bench

run:
	$(GO) run ./cmd/server

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/backcare ./cmd/server

test: fmt-check vet vuln fuzz-short test-engine
	BACKCARE_TEST_ENGINE=$(TEST_ENGINE) $(GO) test -race -count=1 -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) $(PKGS)

# The same tests at the sizes that show a property at scale (storetest.Long):
# thousands of reminders, not hundreds. No race detector, which would make
# them take an hour; `make test` runs every one of them under it at the
# small size.
test-long: test-engine
	BACKCARE_TEST_LONG=1 BACKCARE_TEST_ENGINE=$(TEST_ENGINE) $(GO) test -count=1 -p $(TEST_PARALLEL) -timeout $(LONG_TIMEOUT) $(PKGS)

test-engine:
	$(GO) build -o $(TEST_ENGINE) ./store/storetest/engine

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Fails on a known vulnerability that the code can reach.
vuln:
	@bin=$$($(GO) env GOBIN); gopath=$$($(GO) env GOPATH); bin=$${bin:-$${gopath%%:*}/bin}; \
	if ! "$$bin/govulncheck" -version 2>/dev/null | grep -q "govulncheck@$(GOVULNCHECK_VERSION)"; then \
		echo "installing govulncheck $(GOVULNCHECK_VERSION) into $$bin"; \
		$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) || exit 1; \
	fi; \
	if [ -d "$(VULNDB)" ]; then db="file://$$(cd "$(VULNDB)" && pwd)"; else db=https://vuln.go.dev; fi; \
	echo "govulncheck -db $$db $(PKGS)"; \
	"$$bin/govulncheck" -db "$$db" $(PKGS)

# Every fuzz target for FUZZTIME each (scripts/fuzz.sh).
fuzz-short:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz:
	FUZZTIME=$(FUZZTIME_LONG) ./scripts/fuzz.sh

docker:
	docker build -t backcare .

# With `make run` going in another terminal: shows aftercare pushes arriving.
demo:
	./scripts/demo.sh

# Dispatch, the send stage, the phone-app API and database cost, measured
# side by side (docs/BENCHMARKS.md). With MONGODB_URI set it measures that
# MongoDB instead of the embedded engine. BENCH_FLAGS=-quick for a smoke run,
# BENCH_FLAGS=-only=dispatch-1,send for some scenarios.
bench:
	MONGODB_URI="$(MONGODB_URI)" $(GO) run ./cmd/bench $(BENCH_FLAGS)
