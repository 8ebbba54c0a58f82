# syntax=docker/dockerfile:1
# Three stages on Node's current LTS, pinned by major version:
#   build    all dependencies; compiles the server (dist/server) and the dashboard (web/dist)
#   deps     production dependencies only (npm ci --omit=dev; better-sqlite3's native build needs
#            the full image's compiler, which the runtime image leaves out)
#   runtime  slim: compiled JavaScript run by node itself (PID 1, handles SIGTERM), no TypeScript,
#            no tsx, no dev dependencies; non-root; the database in the /data volume
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
# Owned by root, read-only to the server: only /data is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY migrations ./migrations
COPY --from=build /app/dist/server ./dist/server
COPY --from=build /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/server/main.js"]
