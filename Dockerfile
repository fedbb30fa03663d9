# syntax=docker/dockerfile:1
# Build: a static binary (the embedded engine's SQLite is pure Go, so no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/backcare ./cmd/server \
 && mkdir -p /out/data

# Run: no shell, no package manager, a non-root user. Time zones are
# compiled into the binary (time/tzdata), so none are needed here.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/backcare /backcare
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
ENV PORT=8080 DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/backcare"]
