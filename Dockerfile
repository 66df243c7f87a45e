# syntax=docker/dockerfile:1
# The production image: compiled JavaScript (npm run build), production dependencies
# only, a non-root user and a health check. Build and run:
#   docker build -t superhero-dispatch .
#   docker run --rm -p 3000:3000 -e DATABASE_URL=… -e REDIS_URL=… -e JWT_SECRET=… superhero-dispatch
# `npm run image:check` follows the same steps without Docker (README "Production image").

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The patches are applied by the postinstall step (postgres.js fixes; uvu is dev-only).
COPY package.json package-lock.json ./
COPY scripts/patches scripts/patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY shared shared
COPY machines machines
COPY server server
COPY scripts scripts
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/patches scripts/patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
USER node
EXPOSE 3000
# Ready = Postgres and Redis answer and every migration is applied (GET /readyz).
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/scripts/start.js"]
