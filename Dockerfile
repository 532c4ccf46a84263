# syntax=docker/dockerfile:1

# ---- build ----------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /app

# 1. Dependencies only: manifests + dummy sources, so this layer is reused until
#    Cargo.toml / Cargo.lock change. Every target path named in Cargo.toml ([lib], [[bin]],
#    [[test]], ...) gets a placeholder so that cargo accepts the manifest.
COPY Cargo.toml Cargo.lock ./
COPY migration/Cargo.toml migration/Cargo.toml
RUN set -eux; \
    mkdir -p src migration/src; \
    for f in src/main.rs $(grep -ho 'path = "[^"]*\.rs"' Cargo.toml migration/Cargo.toml | cut -d'"' -f2); do \
        mkdir -p "$(dirname "$f")"; \
        echo 'fn main() {}' > "$f"; \
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
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates fonts-noto-cjk; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin lianming; \
    mkdir -p /data; \
    chown lianming:lianming /data

COPY --from=builder /usr/local/bin/lianming /usr/local/bin/lianming

ENV LIANMING_BIND=0.0.0.0:8080 LIANMING_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
USER lianming
EXPOSE 8080
# No HEALTHCHECK: the slim image has no HTTP client and none is installed on purpose.
ENTRYPOINT ["/usr/local/bin/lianming"]
CMD ["serve"]
