// Wires one complete dispatch server: HTTP, Socket.IO, the outbox relay and the
// BullMQ workers. createApp never listens by itself; `start` does, so tests can run
// several servers in one process, each on its own schema and Redis prefix. Wiring
// only: what each part does is in the module that builds it.
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'socket.io';
import type { Config } from './config.ts';
import { Admission } from './admission.ts';
import { LoopDelay } from './concurrency/loop-delay.ts';
import { ReportBatcher } from './services/report.batcher.ts';
import { createAuth, type Auth } from './auth.ts';
import { createSql, type Sql } from './db.ts';
import { BreadcrumbSampler, breadcrumbSettings } from './geo/breadcrumbs.sampler.ts';
import { LocationWriter } from './geo/location.writer.ts';
import { HeroPositions } from './geo/positions.redis.ts';
import { StatusHealer } from './geo/status.healer.ts';
import { createWebServer } from './http/web.server.ts';
import { createLogger, type Logger } from './log.ts';
import { addLiveGauges, createMetrics, type Metrics } from './metrics.ts';
import { migrate } from './migrate.ts';
import { Notifier, notifierSettings } from './notify/notifier.ts';
import { createOutboxExecutor } from './outbox/outbox.executor.ts';
import { OutboxRelay, relayLimits } from './outbox/outbox.relay.ts';
import { createRedis, redisKeys, type Redis } from './redis.ts';
import { AcceptGate } from './services/accept.gate.ts';
import { transactionSlots, type ServiceContext } from './services/context.ts';
import { PriorityLimiter } from './concurrency/priority-limiter.ts';
import { watchedRounds } from './services/dispatch.watch.ts';
import { rankingOf } from './services/ranking.service.ts';
import { notificationHooks, OfferWake } from './services/notify.service.ts';
import { registerCivilianHandlers } from './sockets/civilian.handlers.ts';
import { registerDispatchHandlers } from './sockets/dispatch.handlers.ts';
import { HeroMapBatcher } from './sockets/hero-map.batcher.ts';
import { registerHeroHandlers } from './sockets/hero.handlers.ts';
import { createIo } from './sockets/io.ts';
import { jobHandlers } from './workers/job.handlers.ts';
import { Queues } from './workers/queues.ts';
import { SweepScheduler } from './workers/sweep.scheduler.ts';

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
  const sql = createSql(config, { onStatement: (transaction) => metrics.dbStatements.inc({ kind: transaction ? 'transaction' : 'statement' }) });
  const keys = redisKeys(config.REDIS_PREFIX);
  const redis = createRedis(config, 'main');
  const bullConnection = createRedis(config, 'bull', { blocking: true });
  const pub = createRedis(config, 'pub');
  const sub = pub.duplicate();
  const auth = createAuth(config);
  const positions = new HeroPositions(redis, keys);
  let draining = false;

  // Services hand each commit's outbox rows to this process's relay (their OutboxSink).
  const carrierLock = createSql(config, { held: true });
  const relay = new OutboxRelay(sql, { ...relayLimits(config), log, metrics }, carrierLock);
  const transactions = new PriorityLimiter({ concurrency: transactionSlots(config), urgentReserve: config.DB_TX_CRITICAL_RESERVE });
  const ctx: ServiceContext = { config, sql, log, metrics, outbox: relay, acceptGate: new AcceptGate(), transactions };
  // The ranking model in force (issue 16): loaded now, reloaded on SIGHUP and a timer once started.
  const ranking = rankingOf(ctx);

  const queues = new Queues(redis, bullConnection, keys.bullPrefix, log);
  const wake = new OfferWake(sql);
  const notifier = new Notifier({ connection: bullConnection, producer: redis, prefix: keys.bullPrefix, log, ...notifierSettings(config, log), ...notificationHooks(ctx, wake) });
  const admission = new Admission({
    concurrency: config.REPORTS_CONCURRENCY, criticalReserve: config.REPORTS_CRITICAL_RESERVE, maxQueue: config.REPORTS_QUEUE_MAX, maxWaitMs: config.REPORTS_QUEUE_WAIT_MS,
    loopDelayMs: config.REPORTS_LOOP_DELAY_MS, minConcurrency: config.REPORTS_CONCURRENCY_MIN,
    onShed: (refused, overMs) => log.warn({ refused, overMs }, 'report gate full: reports refused with 503 and Retry-After, nothing recorded'),
  });
  const loopDelay = new LoopDelay(250, (p99Ms) => {
    admission.adjust(p99Ms);
    metrics.reportsConcurrency.set(admission.concurrency);
  });
  const reports = new ReportBatcher(ctx, { maxBatch: config.REPORTS_BATCH_MAX, lanes: config.REPORTS_BATCH_LANES, positions });
  const web = createWebServer({ config, log, ctx, auth, redis, keys, metrics, positions, admission, reports, queues, notifier, isDraining: () => draining });
  const http = web.server;
  const { io, nsp } = createIo(http, { auth, db: sql, pub, sub, adapterKey: keys.socketAdapter, config });
  const heroMap = new HeroMapBatcher(nsp.dispatch, config.HERO_BATCH_MS, positions);
  addLiveGauges(metrics, { sql, queues, positions, freshMs: config.LOCATION_FRESH_MS, transactions, carries: () => relay.carries });
  const healer = new StatusHealer({ sql, positions, heroMap, log });
  const breadcrumbs = new BreadcrumbSampler({ sql, log, metrics, ...breadcrumbSettings(config) });
  const locations = new LocationWriter({ positions, flushMs: config.LOCATION_FLUSH_MS, log, metrics, heroMap, healer, breadcrumbs });

  registerHeroHandlers(nsp.hero, ctx, locations);
  registerCivilianHandlers(nsp.civilian, ctx, sql, positions);
  registerDispatchHandlers(nsp.dispatch, ctx, sql, positions);

  // One watched round per process, shared by the outbox's inline rounds and BullMQ's.
  const rounds = watchedRounds(ctx, positions);
  const executor = createOutboxExecutor({ ctx, nsp, queues, positions, heroMap, notifier, wake, rounds });
  const sweeps = new SweepScheduler({ ctx, positions, queues });
  let stopping: Promise<void> | undefined;

  return {
    config, log, sql, redis, auth, metrics, io, http,

    async start() {
      const applied = await migrate(sql, config.DB_SCHEMA);
      if (applied.length) log.info({ applied }, 'migrations applied');
      // Carrying and relay passes start once the schema is there.
      relay.start(executor);
      queues.startWorkers(jobHandlers({ ctx, positions, rounds }));
      await sweeps.start();
      ranking.start();
      notifier.start();
      heroMap.start();
      loopDelay.start();
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
      sweeps.stop();
      ranking.stop();
      heroMap.stop();
      loopDelay.stop();
      await locations.stop();
      await breadcrumbs.stop();
      await queues.close();
      await notifier.close();
      await relay.stop();
      await sql.end({ timeout: 5 });
      await carrierLock.end({ timeout: 5 });
      redis.disconnect();
      bullConnection.disconnect();
      pub.disconnect();
      sub.disconnect();
    })();
    await Promise.race([closing, grace]);
    log.info('dispatch server stopped');
  }
}
