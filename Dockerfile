# syntax=docker/dockerfile:1.7
#
# sendgrid-tls-operator: a static (musl) binary in a distroless "static" image, run as nonroot.
#
#   docker build -t sendgrid-tls-operator:dev .                  # from source (target "local")
#   docker buildx build --target release --platform linux/amd64,linux/arm64 .
#                                                                # prebuilt dist/<arch>/ binaries
#
# "local" compiles in an Alpine builder for the platform it runs on (kind, development).
# "release" only copies binaries the release workflow cross-compiled on the runner
# (cargo-zigbuild, .github/workflows/release.yml), so a multi-platform build runs nothing under
# emulation. Base images are pinned by digest (Renovate keeps them current). Not built in this
# repository's offline checks, which have no container engine: see docs/install.md.

# The toolchain the project is developed and tested with.
FROM rust:1.95-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS builder
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
# musl-dev: crt files and headers for the musl target (ring compiles a little C and assembly).
# Pinned to musl 1.2.5, any Alpine revision: the index keeps only the newest revision.
RUN apk add --no-cache musl-dev~1.2.5
WORKDIR /src
COPY . .
# The same binary the tests build: same sources, same Cargo.lock (--locked), release profile.
# Symbols are stripped here (not in Cargo.toml) so debug builds keep them.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
# The commit `--version` and the build_info metric show: the build context has no .git
# (`docker build --build-arg SENDGRID_TLS_OPERATOR_COMMIT=$(git rev-parse --short HEAD) .`).
ARG SENDGRID_TLS_OPERATOR_COMMIT=unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin sendgrid-tls-operator \
 && cp target/release/sendgrid-tls-operator /sendgrid-tls-operator
# Fail the build if the binary is not fully static (it would not start in a distroless/static
# image): a static(-pie) binary has no program interpreter (scanelf is in Alpine's base).
RUN if scanelf --interp --quiet /sendgrid-tls-operator | grep -q .; then \
      echo "sendgrid-tls-operator is dynamically linked" >&2; exit 1; \
    fi \
 && /sendgrid-tls-operator --help >/dev/null

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639 AS runtime
LABEL org.opencontainers.image.title="sendgrid-tls-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps SendGrid's Enforced TLS settings equal to SendGridEnforcedTls resources" \
      org.opencontainers.image.licenses="Apache-2.0"
# 65532 is distroless' "nonroot"; numeric so Kubernetes can verify runAsNonRoot.
USER 65532:65532
# /metrics, /healthz and /readyz (run --metrics-addr, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/sendgrid-tls-operator"]
CMD ["run"]

# The release image: the binary cross-compiled for TARGETARCH by the release workflow.
FROM runtime AS release
ARG TARGETARCH
COPY --chown=0:0 --chmod=0555 dist/${TARGETARCH}/sendgrid-tls-operator /sendgrid-tls-operator

# The default: built from source here.
FROM runtime AS local
COPY --from=builder --chown=0:0 --chmod=0555 /sendgrid-tls-operator /sendgrid-tls-operator
