# syntax=docker/dockerfile:1.7
#
# sendgrid-tls-operator: a static (musl) binary in a distroless "static" image, run as nonroot.
#
#   docker build -t ghcr.io/example/sendgrid-tls-operator:0.1.0 .
#
# The builder runs for the target platform (Alpine's Rust targets musl, so the binary is static
# without cross tooling; `buildx --platform linux/arm64` runs this stage under emulation). The
# runtime image has no shell and no package manager. Not built in this repository's CI, which has
# no container engine: see docs/install.md.

# The toolchain the project is developed and tested with.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS builder
# musl-dev: crt files and headers for the musl target (ring compiles a little C and assembly);
# binutils: readelf, for the static-linking check below.
RUN apk add --no-cache musl-dev binutils
WORKDIR /src
COPY . .
# The same binary the tests build: same sources, same Cargo.lock (--locked), release profile.
# Symbols are stripped here (not in Cargo.toml) so debug builds keep them.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin sendgrid-tls-operator \
 && cp target/release/sendgrid-tls-operator /sendgrid-tls-operator
# Fail the build if the binary is not fully static (it would not start in a distroless/static image).
# A static(-pie) binary has no program interpreter.
RUN if readelf -l /sendgrid-tls-operator | grep -q 'program interpreter'; then \
      echo "sendgrid-tls-operator is dynamically linked" >&2; exit 1; \
    fi \
 && /sendgrid-tls-operator --help >/dev/null

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="sendgrid-tls-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps SendGrid's Enforced TLS settings equal to SendGridEnforcedTls resources" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder --chown=0:0 --chmod=0555 /sendgrid-tls-operator /sendgrid-tls-operator
# 65532 is distroless' "nonroot"; numeric so Kubernetes can verify runAsNonRoot.
USER 65532:65532
# /metrics, /healthz and /readyz (run --metrics-addr, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/sendgrid-tls-operator"]
CMD ["run"]
