# BackCare: the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
PKGS     := ./...
# The race detector slows the embedded engine several times over; the
# timeout leaves room for that on a 2-core machine.
TEST_TIMEOUT ?= 20m

.PHONY: run test build vet fmt-check docker demo

run:
	$(GO) run ./cmd/server

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/backcare ./cmd/server

test: fmt-check vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

docker:
	docker build -t backcare .

# With `make run` going in another terminal: shows aftercare pushes arriving.
demo:
	./scripts/demo.sh
