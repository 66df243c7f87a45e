#!/usr/bin/env bash
# Follows the Dockerfile's steps without Docker, for machines that have none:
#   1. npm run build (compiled JavaScript in dist/);
#   2. a fresh folder with only package.json, the lock file, the patches and dist/,
#      installed with NODE_ENV=production npm ci --omit=dev (no tsx, no TypeScript);
#   3. node dist/scripts/start.js as an unprivileged user, on its own schema and Redis
#      prefix, until GET /readyz answers 200 (60 s at most); then SIGTERM, and cleanup.
# Usage: npm run image:check
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/image-check.XXXXXX)
ID="imgchk_$$_$RANDOM"
PORT=${IMAGE_CHECK_PORT:-3987}
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  psql -h 127.0.0.1 -U root -d postgres -qc "drop schema if exists \"$ID\" cascade" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "$ID:*" | xargs -r redis-cli -h 127.0.0.1 unlink >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "1/3 npm run build"
npm run build --silent

echo "2/3 production install in $WORK (npm ci --omit=dev)"
cp package.json package-lock.json "$WORK/"
mkdir -p "$WORK/scripts" && cp -r scripts/patches "$WORK/scripts/"
(cd "$WORK" && NODE_ENV=production npm ci --omit=dev --no-audit --no-fund --loglevel=error)
cp -r dist "$WORK/dist"
# (typescript may arrive anyway: an optional peer of valibot, which bull-board uses.)
for dev in tsx uvu fast-check playwright-core; do
  if [ -e "$WORK/node_modules/$dev" ]; then echo "FAIL: dev dependency $dev in the production install"; exit 1; fi
done

echo "3/3 node dist/scripts/start.js (as nobody) until /readyz"
chmod -R a+rX "$WORK"
AS=()
if command -v runuser >/dev/null && id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then AS=(runuser -u nobody --); fi
(cd "$WORK" && env -i PATH="$PATH" NODE_ENV=production PORT="$PORT" HOST=127.0.0.1 \
  DATABASE_URL="postgres://root@127.0.0.1:5432/postgres" REDIS_URL="redis://127.0.0.1:6379" \
  DB_SCHEMA="$ID" REDIS_PREFIX="$ID" JWT_SECRET="$(head -c 48 /dev/urandom | base64)" LOG_LEVEL=warn \
  "${AS[@]}" node --enable-source-maps dist/scripts/start.js) &
PID=$!
for i in $(seq 1 120); do
  if ANSWER=$(curl -fsS "http://127.0.0.1:$PORT/readyz" 2>/dev/null); then
    echo "ready after ~$((i / 2)) s: $ANSWER"
    echo "image check: PASS (built, installed without dev dependencies, started ${AS[*]:+as nobody }and ready)"
    exit 0
  fi
  if ! kill -0 "$PID" 2>/dev/null; then echo "FAIL: the server exited"; exit 1; fi
  sleep 0.5
done
echo "FAIL: /readyz did not answer 200 within 60 s"
exit 1
