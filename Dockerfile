# syntax=docker/dockerfile:1
#
# Stratavore daemon image: `stratavored all` (API on 8080, gRPC on 50051, metrics on 9091).
#
#   docker build -t stratavore .
#   docker run --rm -p 127.0.0.1:8080:8080 -v stratavore-data:/var/lib/stratavore stratavore
#
# With no DATABASE_URL and no AMQP_URL the daemon uses the embedded PGlite database under
# /var/lib/stratavore and the in-process bus; compose.yaml runs it against Postgres and RabbitMQ.
# Configuration is by environment (STRATAVORE_<KEY_PATH>, e.g. STRATAVORE_DAEMON_HTTP_PORT) or a
# file mounted at /etc/stratavore/stratavore.yaml; see src/config-spec.ts for the keys.
#
# Agent CLIs are NOT in the image by default, and a supervisor can only start the agents whose
# CLI is on PATH. Add them at build time, for example Claude Code (it also wants git):
#
#   docker build -t stratavore \
#     --build-arg AGENT_NPM_PACKAGES="@anthropic-ai/claude-code" \
#     --build-arg AGENT_APT_PACKAGES="git ca-certificates" .
#
# or in an image of your own:
#
#   FROM stratavore
#   USER root
#   RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
#    && rm -rf /var/lib/apt/lists/* && npm install -g @anthropic-ai/claude-code
#   USER stratavore
#
# The agents then run as the `stratavore` user with HOME=/home/stratavore (their logins and
# transcripts, e.g. ~/.claude, live there: mount a volume on it to keep them).
# Projects may live only under security.project_roots, by default that home: mount them under
# /home/stratavore, or set STRATAVORE_SECURITY_PROJECT_ROOTS=/projects (never the data dir).

# --- deps: production node_modules only -------------------------------------------------
# esbuild and tsx are runtime dependencies (bin/stratavored.mjs starts from a bundle esbuild made,
# or runs the TypeScript sources through tsx), so `npm ci --omit=dev` gives everything the daemon
# needs. (Its prepare script, which compiles the bundles, finds no sources in this stage and does
# nothing: the runtime stage compiles them.)
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# A compiler for native addons (the pseudo-terminal adapter's node-pty, for one); it stays in
# this stage, the runtime image gets only the built node_modules.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ARG AGENT_APT_PACKAGES=""
ARG AGENT_NPM_PACKAGES=""

# tini is PID 1: it forwards SIGTERM to node (which then shuts down gracefully) and reaps the
# zombies that agent CLIs started by a supervisor leave behind. Without it in the image you
# would need `docker run --init` / `init: true` in compose.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ${AGENT_APT_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
RUN if [ -n "${AGENT_NPM_PACKAGES}" ]; then \
      npm install -g --no-audit --no-fund ${AGENT_NPM_PACKAGES} && npm cache clean --force; \
    fi

# A fixed, non-root uid so a bind-mounted data dir can be chowned to it (10001:10001).
RUN groupadd --system --gid 10001 stratavore \
 && useradd --system --uid 10001 --gid stratavore --home-dir /home/stratavore --create-home \
      --shell /bin/bash stratavore \
 && mkdir -p -m 0700 /var/lib/stratavore \
 && chown stratavore:stratavore /var/lib/stratavore

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# What ships is chosen by .dockerignore (an allowlist: package.json, package-lock.json,
# tsconfig.json, bin, src, workers, drizzle, openapi, proto), so a folder that does not exist
# yet is simply absent instead of failing the build. Owned by root: the daemon cannot rewrite
# its own code or migrations.
COPY . .
# The daemon and the stratavore CLI as JavaScript bundles (dist/daemon, dist/cli), so neither
# transpiles TypeScript when it starts; made as root, like the rest of /app, with esbuild.
RUN node bin/bundle.mjs

# 0.0.0.0 is the container's own interface: who can reach the ports is decided where they are
# published (compose.yaml publishes them on the host's 127.0.0.1), which the daemon cannot see,
# hence allow_insecure_bind. Publishing them beyond loopback calls for daemon.tls_* and
# daemon.grpc_tls_* (README, TLS).
ENV NODE_ENV=production \
    HOME=/home/stratavore \
    STRATAVORE_DATA_DIR=/var/lib/stratavore \
    STRATAVORE_DAEMON_HOST=0.0.0.0 \
    STRATAVORE_DAEMON_ALLOW_INSECURE_BIND=true \
    STRATAVORE_DOCKER_PROMETHEUS_HOST=0.0.0.0

USER stratavore:stratavore
VOLUME ["/var/lib/stratavore"]

# 8080 HTTP (REST /api/v1, WebUI, Connect-RPC, WebSockets), 50051 gRPC, 9091 Prometheus /metrics
EXPOSE 8080 50051 9091

# The slim image has no curl or wget: node's fetch does the probe. /api/v1/health also reads
# the database, so a daemon that lost it turns unhealthy. Only `all` and `api` serve HTTP: run
# other roles with `--no-healthcheck` (compose: `healthcheck: {disable: true}`).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.STRATAVORE_DAEMON_HTTP_PORT || 8080) + '/api/v1/health', { signal: AbortSignal.timeout(4000) }).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The daemon stops gracefully within daemon.shutdown_timeout_seconds (30 s by default): give it
# that long with `docker stop -t 35` (compose.yaml sets stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/stratavored.mjs"]
CMD ["all"]
