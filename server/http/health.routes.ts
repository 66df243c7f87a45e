// Liveness, readiness and metrics. Ready means: not draining, Postgres and Redis
// answer, and every migration is applied.
import type { Redis } from 'ioredis';
import type { Sql } from '../db.ts';
import { withDeadline } from '../db.ts';
import type { Metrics } from '../metrics.ts';
import { pendingMigrations } from '../migrate.ts';
import type { Router } from './router.ts';

export interface HealthDeps { sql: Sql; redis: Redis; metrics: Metrics; isDraining: () => boolean }

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

  router.add('GET', '/metrics', async () => ({
    status: 200,
    text: await d.metrics.registry.metrics(),
    headers: { 'content-type': d.metrics.registry.contentType },
  }));
}
