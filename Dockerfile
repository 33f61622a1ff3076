# syntax=docker/dockerfile:1
# The image the Helm chart runs: the workspace's TypeScript, run by Node's type stripping (no
# build step), with production dependencies only. ENTRYPOINT is the `switchyard` command line;
# the chart picks the subcommand (api, controller, worker, migrate).
#
#   docker build -t registry.example/switchyard:0.1.0 .
#
# The image writes nothing outside /tmp, so it runs with a read-only root filesystem.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- dependencies: pnpm fetches from the lockfile alone (a cached layer until it changes), then
# installs the workspace's production dependencies offline.
FROM ${NODE_IMAGE} AS deps
ENV CI=true
RUN npm install --global --no-audit --no-fund pnpm@10.34.8
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --prod
COPY . .
RUN pnpm install --offline --frozen-lockfile --prod

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOME=/tmp \
    HOST=0.0.0.0 \
    PORT=8080
RUN groupadd --system --gid 10001 switchyard \
  && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin switchyard \
  && printf '#!/bin/sh\nexec node /app/services/cli/src/main.ts "$@"\n' > /usr/local/bin/switchyard \
  && chmod 0755 /usr/local/bin/switchyard
WORKDIR /app
# Owned by root and not writable by the user the processes run as.
COPY --from=deps /app /app
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]
CMD ["help"]
