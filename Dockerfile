# syntax=docker/dockerfile:1
# The relay's container image: a static binary on distroless, running as a non-root user.
#   docker build -t callrelay:dev --build-arg VERSION=0.1.0 .
# Configure it with the RELAY_* environment variables (README, "Configuration"); in Kubernetes use
# the Helm chart in deploy/helm/callrelay.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc in the final image.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/relay ./cmd/relay

FROM gcr.io/distroless/static-debian12:nonroot
# CA certificates (for tls:// NATS URLs) and /etc/passwd with the nonroot user come with the base.
COPY --from=build /out/relay /relay
# The relay listens on every interface of the container, never serves the local demo, and keeps the
# embedded NATS server's store (used only without RELAY_NATS_URL) in the user's home.
ENV RELAY_ADDR=0.0.0.0:8080 \
    RELAY_DEMO=off \
    RELAY_DATA_DIR=/home/nonroot/data
EXPOSE 8080
# 65532 is distroless's nonroot user; numeric, so that Kubernetes can check runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/relay"]
CMD ["serve"]
