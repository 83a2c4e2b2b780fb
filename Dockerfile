# ssobridge container image: the binary on distroless base (glibc and OpenSSL 3's libcrypto, no
# shell, no package manager), run as a non-root user, with the data directory on a volume. The root filesystem can be mounted
# read-only; SQLite's temporary files go to /tmp (mount a tmpfs there):
#
#   docker build -t ssobridge --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --read-only --tmpfs /tmp -v ssobridge-data:/data -v $PWD/config.yaml:/etc/ssobridge/config.yaml:ro \
#     -e SSOBRIDGE_CONFIG=/etc/ssobridge/config.yaml -p 8080:8080 ssobridge
#
# The build command below is also run by cmd/ssobridge's TestDockerfileBuild (no container
# engine needed), which checks that the binary needs only libc and reports the version it was
# given. The build has cgo so that RS256 ID tokens are signed through the image's libcrypto
# (keys.rsa_signer, internal/rsasign: 2.5-3.3 times as fast as Go's crypto/rsa); libcrypto
# is opened at run time, not linked. A CGO_ENABLED=0 build on distroless/static-debian12 also
# works: it signs with crypto/rsa.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=1 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/ssobridge/ssobridge/bridge/version.version=${VERSION} -X github.com/ssobridge/ssobridge/bridge/version.commit=${COMMIT} -X github.com/ssobridge/ssobridge/bridge/version.date=${DATE}" \
    -o /out/ssobridge ./cmd/ssobridge
RUN mkdir -p /out/data

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/ssobridge /usr/local/bin/ssobridge
# The data directory (SQLite store, generated key file) belongs to the nonroot user (65532),
# mode 0700 (the bridge makes it private at start-up anyway).
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
USER 65532:65532
VOLUME ["/data"]
# 8080: the public listener (put TLS in front); 8081: the admin listener (metrics, readiness,
# admin API), keep it private.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/ssobridge"]
CMD ["serve", "--data-dir", "/data", "--listen", "0.0.0.0:8080"]
