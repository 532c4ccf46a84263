# syntax=docker/dockerfile:1

# ---- build ----------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
# bash with pipefail, so that a failing grep in a pipe fails the step.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app

# 1. Dependencies only: manifests + dummy sources, so this layer is reused until
#    Cargo.toml / Cargo.lock change. Every target path named in a manifest ([lib], [[bin]],
#    [[test]], [[bench]]: `path = "….rs"`, relative to that manifest's directory) gets a
#    placeholder so that cargo accepts the manifest (scripts/check-deploy checks that each
#    target has such a line and each member's manifest is copied here).
COPY Cargo.toml Cargo.lock ./
COPY migration/Cargo.toml migration/Cargo.toml
RUN set -eux; \
    for manifest in Cargo.toml migration/Cargo.toml; do \
        dir="$(dirname "$manifest")"; \
        grep -o '^path = "[^"]*\.rs"' "$manifest" | cut -d'"' -f2 | while read -r target; do \
            mkdir -p "$dir/$(dirname "$target")"; \
            echo 'fn main() {}' > "$dir/$target"; \
        done; \
    done; \
    : > src/lib.rs; \
    : > migration/src/lib.rs; \
    cargo build --release --locked; \
    rm -rf src migration/src

# 2. The real sources (askama templates live in frontend/templates, configured by askama.toml).
COPY askama.toml ./
COPY src src
COPY migration migration
COPY frontend frontend
# Declared test and bench targets must exist for cargo to read the manifest.
COPY tests tests
COPY benches benches
# COPY keeps the files' original mtimes, which may be older than the placeholder build: touch
# them so cargo rebuilds the workspace crates.
RUN set -eux; \
    find src migration/src tests benches -name '*.rs' -exec touch {} +; \
    cargo build --release --locked --bin lianming; \
    install -m 0755 target/release/lianming /usr/local/bin/lianming

# ---- runtime --------------------------------------------------------------------------------
FROM debian:bookworm-slim
# Unpinned on purpose: bookworm's point releases and security updates replace these packages'
# versions, so an exact pin would stop the image from building; the base tag pins the release.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates fonts-noto-cjk; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 lianming; \
    useradd --system --uid 10001 --gid lianming --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin lianming; \
    mkdir -p /data; \
    chown lianming:lianming /data; \
    chmod 0700 /data

COPY --from=builder /usr/local/bin/lianming /usr/local/bin/lianming

ENV LIANMING_BIND=0.0.0.0:8080 LIANMING_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
# Numeric, so that a runtime can tell it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# Liveness without adding an HTTP client to the image: bash (always in Debian) opens a TCP
# connection to the port of LIANMING_BIND and asks for /healthz; healthy on a 200 status line.
# `lianming worker` serves no HTTP: compose.yaml turns this off for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${LIANMING_BIND##*:}\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == 'HTTP/1.'?' 200 '* ]]"]
ENTRYPOINT ["/usr/local/bin/lianming"]
CMD ["serve"]
