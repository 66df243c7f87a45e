// Liveness, readiness and metrics. Ready means: not draining, Postgres and Redis
// answer, and every migration is applied. Metrics are computed at most once per
// METRICS_CACHE_MS, and answer only the bearer of METRICS_TOKEN when one is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import { withDeadline } from '../db.ts';
import { AppError } from '../errors.ts';
import { cachedScrape, type Metrics } from '../metrics.ts';
import { pendingMigrations } from '../migrate.ts';
import { RANKING_STATES, type RankingStatus } from '../services/ranking.service.ts';
import { pingDatabase } from '../store/health.store.ts';
import { problems } from './problem.ts';

export interface HealthDeps {
  sql: Sql;
  redis: Redis;
  metrics: Metrics;
  isDraining: () => boolean;
  /** Without it: no token, and the default cache of 1 s. */
  config?: Pick<Config, 'METRICS_TOKEN' | 'METRICS_CACHE_MS'>;
  /** The ranking in force (issue 16): reported in the details, never a reason to be unready. */
  ranking?: () => RankingStatus;
}

// Digests have one length whatever was sent, so the comparison takes the same time
// for every wrong token, including ones of another length.
const digest = (s: string) => createHash('sha256').update(s).digest();

/** Refuses a request without `Authorization: Bearer <token>`, compared in constant time. */
function bearerOnly(token: string): onRequestHookHandler {
  const expected = digest(token);
  return (req, _reply, done) => {
    const sent = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    done(timingSafeEqual(digest(sent), expected) ? undefined : new AppError('unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>'));
  };
}

const rankingDetails = z.strictObject({
  state: z.enum(RANKING_STATES).meta({ description: '`learned`: the model ranks; otherwise why today\'s ETA order ranks instead.' }),
  mode: z.enum(['learned', 'distance']).meta({ description: 'RANKING_MODE' }),
  path: z.string().meta({ description: 'RANKING_MODEL_PATH' }),
  version: z.string().nullable(),
  trainedAt: z.string().nullable(),
  ageMs: z.number().nullable().meta({ description: 'The model\'s age by its trainedAt (ms).' }),
  error: z.string().nullable().meta({ description: 'Why no model is in force in learned mode (no file, an invalid file, a stale model).' }),
  loadedAt: z.number().nullable().meta({ description: 'When the file was last read (epoch ms).' }),
});

const readiness = z.strictObject({
  ready: z.boolean(),
  checks: z.strictObject({ postgres: z.boolean(), redis: z.boolean(), migrations: z.boolean(), draining: z.boolean() }),
  details: z.strictObject({ ranking: rankingDetails }).optional().meta({ description: 'What the process runs with; never a reason to be unready.' }),
}).meta({
  id: 'Readiness', description: 'Ready only when Postgres and Redis answer, every migration is applied and the process is not draining.',
  examples: [{ ready: true, checks: { postgres: true, redis: true, migrations: true, draining: false } }],
});

const tags = ['health'];

export const healthRoutes = (d: HealthDeps): FastifyPluginAsyncZod => async (app) => {
  app.get('/healthz', {
    schema: { tags, summary: 'Liveness', response: { 200: z.strictObject({ ok: z.literal(true) }).meta({ description: 'The process is up.', examples: [{ ok: true }] }) } },
  }, async () => ({ ok: true as const }));

  app.get('/readyz', {
    schema: { tags, summary: 'Readiness', response: { 200: readiness, 503: readiness } },
  }, async (_req, reply) => {
    const check = async (what: string, probe: () => Promise<unknown>) => {
      try { await withDeadline(probe(), 1_000, what); return true; } catch { return false; }
    };
    const [postgres, redis, pending] = await Promise.all([
      check('postgres', () => pingDatabase(d.sql)),
      check('redis', () => d.redis.ping()),
      pendingMigrations(d.sql).catch(() => -1),
    ]);
    const checks = { postgres, redis, migrations: pending === 0, draining: d.isDraining() };
    const ready = postgres && redis && pending === 0 && !checks.draining;
    return reply.code(ready ? 200 : 503).send({ ready, checks, ...(d.ranking ? { details: { ranking: d.ranking() } } : {}) });
  });

  const scrape = cachedScrape(d.metrics, d.config?.METRICS_CACHE_MS ?? 1_000);
  const token = d.config?.METRICS_TOKEN;
  app.get('/metrics', {
    ...(token ? { onRequest: bearerOnly(token) } : {}),
    schema: {
      tags, summary: 'Prometheus metrics',
      description: token ? 'Answers only `Authorization: Bearer <METRICS_TOKEN>`.' : 'Open: this server has no METRICS_TOKEN.',
      ...(token ? { security: [{ metricsToken: [] }] } : {}),
      response: {
        200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: z.string().meta({ examples: ['dispatch_reports_total 42\n'] }) } } },
        ...(token ? problems(401) : {}),
      },
    },
  }, async (_req, reply) => reply.type(d.metrics.registry.contentType).send(await scrape()));
};
