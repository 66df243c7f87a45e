// Liveness, readiness and metrics. Ready means: not draining, Postgres and Redis
// answer, and every migration is applied. Metrics are computed at most once per
// METRICS_CACHE_MS, and answer only the bearer of METRICS_TOKEN when one is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { withDeadline } from '../db.ts';
import { AppError } from '../errors.ts';
import { cachedScrape, type Metrics } from '../metrics.ts';
import { pendingMigrations } from '../migrate.ts';
import type { Router } from './router.ts';

export interface HealthDeps {
  sql: Sql;
  redis: Redis;
  metrics: Metrics;
  isDraining: () => boolean;
  /** Without it: no token, and the default cache of 1 s. */
  config?: Pick<Config, 'METRICS_TOKEN' | 'METRICS_CACHE_MS'>;
}

// Digests have one length whatever was sent, so the comparison takes the same time
// for every wrong token, including ones of another length.
const digest = (s: string) => createHash('sha256').update(s).digest();

/** A check of `Authorization: Bearer <token>` against `token`, in constant time. */
function bearerCheck(token: string): (header: string | undefined) => boolean {
  const expected = digest(token);
  return (header) => {
    const sent = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1] ?? '';
    return timingSafeEqual(digest(sent), expected);
  };
}

export function healthRoutes(router: Router, d: HealthDeps): void {
  router.add('GET', '/healthz', async () => ({ status: 200, body: { ok: true } }));

  router.add('GET', '/readyz', async () => {
    const check = async (what: string, probe: () => Promise<unknown>) => {
      try { await withDeadline(probe(), 1_000, what); return true; } catch { return false; }
    };
    const [postgres, redis, pending] = await Promise.all([
      check('postgres', () => d.sql`select 1`),
      check('redis', () => d.redis.ping()),
      pendingMigrations(d.sql).catch(() => -1),
    ]);
    const checks = { postgres, redis, migrations: pending === 0, draining: d.isDraining() };
    const ready = postgres && redis && pending === 0 && !checks.draining;
    return { status: ready ? 200 : 503, body: { ready, checks } };
  });

  const scrape = cachedScrape(d.metrics, d.config?.METRICS_CACHE_MS ?? 1_000);
  const token = d.config?.METRICS_TOKEN;
  const authorized = token ? bearerCheck(token) : () => true;
  router.add('GET', '/metrics', async (req) => {
    if (!authorized(req.headers.authorization)) throw new AppError('unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>');
    return { status: 200, text: await scrape(), headers: { 'content-type': d.metrics.registry.contentType } };
  });
}
