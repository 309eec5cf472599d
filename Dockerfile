# syntax=docker/dockerfile:1
#
# The multi-channel support API as a static binary on a distroless base.
#
#   docker build -t multichannel .
# The image runs in production mode, which refuses to start without a
# JWT_SECRET of at least 32 bytes:
#
#   docker run -p 8080:8080 -e JWT_SECRET="$(openssl rand -hex 32)" multichannel   # embedded store in /data
#   docker run -p 8080:8080 -e JWT_SECRET="$(openssl rand -hex 32)" \
#     -e EVENTSTORE_URL='esdb://host:2113?tls=false' multichannel
#
# docker-compose.yml builds it with EventStoreDB next to it. The heredoc
# below needs BuildKit, the default builder of current Docker and Compose.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that editing the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: the SQLite driver is pure Go, and a static binary needs no libc in
# the final image.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/multichannel .

# The final image has no shell and no curl, so its health check is a
# ten-line Go program built here (GET /healthz, exit 1 unless 200).
COPY <<'EOF' /healthcheck/main.go
package main

import (
	"net/http"
	"os"
	"time"
)

func main() {
	url := os.Getenv("HEALTHCHECK_URL")
	if url == "" {
		url = "http://127.0.0.1:8080/healthz"
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil || resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}
EOF
RUN cd /healthcheck && go mod init healthcheck && go build -trimpath -ldflags="-s -w" -o /out/healthcheck . \
 && mkdir -p /out/data

# Distroless static: CA certificates and time zones, nothing else; runs as
# the unprivileged user "nonroot" (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/multichannel /out/healthcheck /app/
# The embedded store's directory, writable by the non-root user.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV APP_ENV=production \
    HTTP_ADDR=:8080 \
    EVENTS_DB=/data/events.db
VOLUME /data
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/app/healthcheck"]
ENTRYPOINT ["/app/multichannel"]
