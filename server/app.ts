// Wires one complete dispatch server: HTTP, Socket.IO, the outbox relay and the
// BullMQ workers. createApp never listens by itself; `start` does, so tests can run
// several servers in one process, each on its own schema and Redis prefix.
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'socket.io';
import type { Config } from './config.ts';
import { Admission } from './admission.ts';
import { createAuth, type Auth } from './auth.ts';
import { createSql, type Sql } from './db.ts';
import { LocationWriter } from './geo/location.writer.ts';
import { HeroPositions } from './geo/positions.redis.ts';
import { createWebServer } from './http/web.server.ts';
import { createLogger, type Logger } from './log.ts';
import { addLiveGauges, createMetrics, type Metrics } from './metrics.ts';
import { outboxLag } from './store/outbox.store.ts';
import { migrate } from './migrate.ts';
import { createRedis, redisKeys, type Redis } from './redis.ts';
import type { ServiceContext } from './services/context.ts';
import { watchedRound } from './services/dispatch.watch.ts';
import { expireOffer } from './services/offer.service.ts';
import { getHeroes } from './store/heroes.store.ts';
import { registerCivilianHandlers } from './sockets/civilian.handlers.ts';
import { registerDispatchHandlers } from './sockets/dispatch.handlers.ts';
import { HeroMapBatcher } from './sockets/hero-map.batcher.ts';
import { registerHeroHandlers } from './sockets/hero.handlers.ts';
import { createIo } from './sockets/io.ts';
import { createOutboxExecutor } from './workers/outbox.executor.ts';
import { OutboxRelay } from './workers/outbox.relay.ts';
import { AcceptGate } from './services/accept.gate.ts';
import { Queues } from './workers/queues.ts';
import { Notifier } from './notify/notifier.ts';
import { createProvider } from './notify/providers.ts';
import { deadLetter, stillWanted } from './services/notify.service.ts';
import { sweep } from './workers/sweeper.ts';

export interface App {
  config: Config;
  log: Logger;
  sql: Sql;
  redis: Redis;
  auth: Auth;
  metrics: Metrics;
  io: Server;
  http: HttpServer;
  /** Applies migrations, starts workers, and listens. Resolves to the bound port. */
  start(): Promise<number>;
  /** Stops taking work, finishes what is in flight, closes every connection. */
  stop(): Promise<void>;
}

export function createApp(config: Config, opts: { log?: Logger } = {}): App {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const sql = createSql(config);
  const keys = redisKeys(config.REDIS_PREFIX);
  const redis = createRedis(config, 'main');
  const bullConnection = createRedis(config, 'bull', { blocking: true });
  const pub = createRedis(config, 'pub');
  const sub = pub.duplicate();
  const auth = createAuth(config);
  const positions = new HeroPositions(redis, keys);
  let draining = false;

  let relay: OutboxRelay | undefined;
  const ctx: ServiceContext = { config, sql, log, metrics, afterCommit: (rows) => relay?.carry(rows), acceptGate: new AcceptGate() };

  const queues = new Queues(redis, bullConnection, keys.bullPrefix, log);
  const notifier = new Notifier({
    connection: bullConnection, prefix: keys.bullPrefix, log,
    provider: createProvider(config.NOTIFY_PROVIDER, { log, url: config.NOTIFY_WEBHOOK_URL, timeoutMs: config.NOTIFY_TIMEOUT_MS }),
    stepMs: config.NOTIFY_STEP_MS, attempts: config.NOTIFY_ATTEMPTS, backoffMs: config.NOTIFY_BACKOFF_MS,
    stillWanted: (req) => stillWanted(ctx, req),
    onDelivered: (msg) => metrics.notificationsTotal.inc({ channel: msg.channel, outcome: 'delivered' }),
    onDeadLetter: (msg, error) => deadLetter(ctx, msg, error),
  });
  const admission = new Admission({ concurrency: config.REPORTS_CONCURRENCY, maxQueue: config.REPORTS_QUEUE_MAX, maxWaitMs: config.REPORTS_QUEUE_WAIT_MS });
  const web = createWebServer({ config, log, ctx, auth, redis, keys, metrics, positions, admission, queues, notifier, isDraining: () => draining });
  const http = web.server;
  const { io, nsp } = createIo(http, { auth, db: sql, pub, sub, adapterKey: keys.socketAdapter, config });
  const heroMap = new HeroMapBatcher(nsp.dispatch, config.HERO_BATCH_MS, (ids) => positions.live(ids));
  addLiveGauges(metrics, {
    async openIncidentsByState() {
      const rows = await sql<{ state: string; n: number }[]>`
        select state, count(*)::int as n from incidents where state not in ('resolved', 'cancelled') group by state`;
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    outboxLag: () => outboxLag(sql),
    queueDepths: () => queues.depths(),
    async staleHeroes() {
      const onDuty = await sql<{ id: string }[]>`select id from heroes where on_duty`;
      if (onDuty.length === 0) return 0;
      const seen = await redis.hmget(keys.lastSeen, ...onDuty.map((h) => h.id));
      const cutoff = Date.now() - config.LOCATION_FRESH_MS;
      return seen.filter((s) => !s || Number(s) < cutoff).length;
    },
  });

  // Redis does not know these heroes' status (new to it, or it restarted empty): copy
  // it back from Postgres, then show the ping on the dispatchers' map.
  const healing = new Set<string>();
  const heal = (pings: { heroId: string; lat: number; lng: number; at: number }[]) => {
    const fresh = pings.filter((p) => !healing.has(p.heroId));
    if (fresh.length === 0) return;
    fresh.forEach((p) => healing.add(p.heroId));
    getHeroes(sql, fresh.map((p) => p.heroId))
      .then((rows) => Promise.all(rows.map(async (h) => {
        await positions.setStatus(h.id, h.status, Number(h.status_version), h.mode);
        const ping = fresh.find((p) => p.heroId === h.id)!;
        heroMap.mark({ id: h.id, status: h.status, location: { lat: ping.lat, lng: ping.lng }, lastSeenAt: ping.at });
      })))
      .catch((err) => log.warn({ err }, 'could not heal hero statuses'))
      .finally(() => fresh.forEach((p) => healing.delete(p.heroId)));
  };
  const locations = new LocationWriter({
    positions, flushMs: config.LOCATION_FLUSH_MS, log, metrics, onWritten: (e) => heroMap.mark(e), onUnknown: heal,
  });

  registerHeroHandlers(nsp.hero, ctx, locations);
  registerCivilianHandlers(nsp.civilian, ctx, sql, positions);
  registerDispatchHandlers(nsp.dispatch, ctx, sql, positions);

  let rescheduler: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  return {
    config, log, sql, redis, auth, metrics, io, http,

    async start() {
      const applied = await migrate(sql, config.DB_SCHEMA);
      if (applied.length) log.info({ applied }, 'migrations applied');
      const runRound = watchedRound(ctx, positions);
      relay = new OutboxRelay(sql, createOutboxExecutor({ ctx, sql, nsp, queues, positions, heroMap, notifier, runRound, log }), {
        pollMs: config.OUTBOX_POLL_MS, log, metrics,
        // A carry holds its claim transaction's connection while an inline round takes
        // another: a third of the pool leaves the rest for reports and accepts.
        carryConcurrency: Math.max(1, Math.floor(config.DB_POOL_SIZE / 3)),
        carryMaxWaiting: 64,
      });
      queues.startWorkers({
        dispatch: (job) => runRound(job.incidentId),
        expire: (job) => expireOffer(ctx, job.offerId),
        sweep: () => sweep(ctx, positions),
      });
      let checking = false;
      const ensureSweeps = async () => {
        if (checking) return; // a check still waiting on Redis: do not pile up more
        checking = true;
        try {
          if (await queues.ensureSweeps(config.SWEEP_INTERVAL_MS)) {
            log.info('sweep scheduler (re)created; sweeping now');
            await sweep(ctx, positions);
          }
        } catch (err) {
          log.warn({ err }, 'could not check the sweep scheduler');
        } finally {
          checking = false;
        }
      };
      await ensureSweeps();
      rescheduler = setInterval(() => void ensureSweeps(), config.SWEEP_INTERVAL_MS);
      notifier.start();
      relay.start();
      heroMap.start();
      const port = await web.listen(config.PORT, config.HOST);
      log.info({ port, schema: config.DB_SCHEMA }, 'dispatch server listening');
      return port;
    },

    stop() {
      // Idempotent: a second call (a signal during shutdown) waits for the first.
      stopping ??= shutdown();
      return stopping;
    },
  };

  async function shutdown(): Promise<void> {
    draining = true;
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.SHUTDOWN_GRACE_MS).unref());
    const closing = (async () => {
      // Close sockets first so clients reconnect elsewhere, then finish in-flight work.
      const closed = new Promise<void>((resolve) => io.close(() => resolve()));
      web.closeIdle();
      await closed;
      clearInterval(rescheduler);
      heroMap.stop();
      await locations.stop();
      await queues.close();
      await notifier.close();
      await relay?.stop();
      await sql.end({ timeout: 5 });
      redis.disconnect();
      bullConnection.disconnect();
      pub.disconnect();
      sub.disconnect();
    })();
    await Promise.race([closing, grace]);
    log.info('dispatch server stopped');
  }
}
