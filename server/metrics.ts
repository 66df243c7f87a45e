// Prometheus metrics with conventional names and base units (seconds, totals), and
// the live gauges read from Postgres, Redis and BullMQ at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sql } from './db.ts';
import { onDutyHeroIds, openIncidentsByState } from './store/gauges.store.ts';
import { outboxLag } from './store/outbox.store.ts';

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    reportsTotal: new Counter({ name: 'dispatch_reports_total', help: 'Incident reports by outcome (shed: refused 503 at a full gate, nothing recorded)', labelNames: ['outcome'], registers: [registry] }),
    reportBatchSize: new Histogram({ name: 'dispatch_report_batch_size', help: 'Reports committed together in one transaction (group commit)', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] }),
    reportsConcurrency: new Gauge({ name: 'dispatch_reports_concurrency', help: 'Reports the gate lets be written at once now (lowered while the event loop is late)', registers: [registry] }),
    reportsWaiting: new Gauge({ name: 'dispatch_reports_waiting', help: 'Reports admitted and waiting for the next batch transaction (this process)', registers: [registry] }),
    reportToFirstOffer: new Histogram({ name: 'dispatch_report_to_first_offer_seconds', help: 'Time from report to the first offer sent', buckets: LATENCY_BUCKETS, registers: [registry] }),
    reportToAssigned: new Histogram({ name: 'dispatch_report_to_assigned_seconds', help: 'Time from report to every slot filled', buckets: LATENCY_BUCKETS, registers: [registry] }),
    offersTotal: new Counter({ name: 'dispatch_offers_total', help: 'Offers by outcome', labelNames: ['outcome'], registers: [registry] }),
    acceptConflicts: new Counter({ name: 'dispatch_accept_conflicts_total', help: 'Accepts refused because another hero or assignment won', labelNames: ['reason'], registers: [registry] }),
    pingsTotal: new Counter({ name: 'dispatch_location_pings_total', help: 'Location pings written to Redis', registers: [registry] }),
    breadcrumbsKept: new Counter({ name: 'dispatch_breadcrumbs_kept_total', help: 'Breadcrumbs (positions of heroes holding work) written to Postgres', registers: [registry] }),
    breadcrumbsDropped: new Counter({ name: 'dispatch_breadcrumbs_dropped_total', help: 'Breadcrumbs dropped, oldest first, because the buffer was full while Postgres was away or slow', registers: [registry] }),
    retentionArchived: new Counter({ name: 'dispatch_retention_archived_total', help: 'Finished incidents archived (with their trail) and pruned by retention', registers: [registry] }),
    breadcrumbsPruned: new Counter({ name: 'dispatch_breadcrumbs_pruned_total', help: 'Breadcrumbs removed by retention', registers: [registry] }),
    outboxRelayed: new Counter({ name: 'dispatch_outbox_relayed_total', help: 'Outbox rows carried out, by the committing process (carry) or a relay pass (pass)', labelNames: ['topic', 'mode'], registers: [registry] }),
    dbStatements: new Counter({ name: 'dispatch_db_statements_total', help: 'Statements sent to Postgres by the pool, transactions counted by their BEGIN (issue 14: statements per incident)', labelNames: ['kind'], registers: [registry] }),
    outboxFailures: new Counter({ name: 'dispatch_outbox_failures_total', help: 'Outbox rows that failed and will be retried', labelNames: ['topic'], registers: [registry] }),
    incidentsStuck: new Counter({ name: 'dispatch_incidents_stuck_total', help: 'Incidents found past their deadline by the sweeper', labelNames: ['state'], registers: [registry] }),
    notificationsTotal: new Counter({ name: 'dispatch_notifications_total', help: 'Push/SMS/voice messages by outcome', labelNames: ['channel', 'outcome'], registers: [registry] }),
    redisIntakeMisses: new Counter({ name: 'dispatch_redis_intake_misses_total', help: 'Redis calls on the report path skipped because Redis answered after REDIS_INTAKE_DEADLINE_MS (slow) or failed (error)', labelNames: ['call', 'why'], registers: [registry] }),
    metricsComputations: new Counter({ name: 'dispatch_metrics_computations_total', help: 'Times /metrics was computed (scrapes inside METRICS_CACHE_MS share one computation)', registers: [registry] }),
    capMessages: new Counter({ name: 'dispatch_cap_messages_total', help: 'Public alert (OASIS CAP) messages sent, by trigger (burst, warning) and msgType', labelNames: ['trigger', 'msg_type'], registers: [registry] }),
    socketsConnected: new Gauge({ name: 'dispatch_sockets_connected', help: 'Connected sockets by namespace (this process)', labelNames: ['namespace'], registers: [registry] }),
    rankingModel: new Gauge({ name: 'dispatch_ranking_model', help: 'Ranking in force in this process: 1 for the state in force (learned, or why the ETA fallback ranks), 0 for the others', labelNames: ['state'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The scrape text, computed at most once per `cacheMs` however often it is asked for:
 * scrapes arriving while a computation runs share it (single flight), and scrapes
 * within `cacheMs` of its start get its text. Each computation runs several Postgres
 * and Redis queries, so an eager or hostile scraper must not multiply them.
 */
export function cachedScrape(m: Metrics, cacheMs: number): () => Promise<string> {
  let cached: { text: string; at: number } | undefined;
  let computing: Promise<string> | undefined;
  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.text);
    computing ??= (async () => {
      const at = Date.now();
      try {
        m.metricsComputations.inc(); // before collecting, so the text counts itself
        const text = await m.registry.metrics();
        cached = { text, at };
        return text;
      } finally {
        computing = undefined;
      }
    })();
    return computing;
  };
}

/** Where the live gauges read from: the truth at scrape time, so every process reports the cluster's view. */
export interface GaugeSources {
  sql: Sql;
  /** The BullMQ queues (workers/queues.ts). */
  queues: { depths(): Promise<Record<string, Record<string, number>>> };
  /** Hero positions in Redis (geo/positions.redis.ts). */
  positions: { countStale(heroIds: string[], cutoff: number): Promise<number> };
  /** A hero silent for longer counts as stale (LOCATION_FRESH_MS). */
  freshMs: number;
  /** This process's transaction slots (services/context.ts). */
  transactions: { active: number; waiting: number; waitingAhead(rank: number): number };
  /** This process's outbox carries (outbox/outbox.relay.ts). */
  carries(): { active: number; waiting: number };
}

/** How long one scrape waits for a probe: a hung Redis or Postgres must not hang /metrics. */
const PROBE_DEADLINE_MS = 1_000;

export function addLiveGauges(m: Metrics, sources: GaugeSources): void {
  const { sql, queues, positions, freshMs, transactions, carries } = sources;
  const registers = [m.registry];
  // A probe that fails or is late (a dependency down or hung) leaves the gauge at its
  // last value; readiness reports the dependency.
  const safely = async (run: () => Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, PROBE_DEADLINE_MS); });
    try { await Promise.race([run(), late]); } catch { /* see above */ } finally { clearTimeout(timer); }
  };
  new Gauge({
    name: 'dispatch_open_incidents', help: 'Incidents not yet resolved or cancelled, by state', labelNames: ['state'], registers,
    async collect() {
      await safely(async () => {
        const counts = await openIncidentsByState(sql);
        this.reset();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      });
    },
  });
  new Gauge({
    name: 'dispatch_outbox_pending_rows', help: 'Outbox rows not yet carried out', registers,
    async collect() { await safely(async () => { this.set((await outboxLag(sql)).rows); }); },
  });
  new Gauge({
    name: 'dispatch_outbox_lag_seconds', help: 'Age of the oldest outbox row not yet carried out', registers,
    async collect() { await safely(async () => { this.set((await outboxLag(sql)).oldestMs / 1000); }); },
  });
  new Gauge({
    name: 'dispatch_queue_jobs', help: 'BullMQ jobs by queue and state', labelNames: ['queue', 'state'], registers,
    async collect() {
      await safely(async () => {
        for (const [queue, counts] of Object.entries(await queues.depths())) {
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
        }
      });
    },
  });
  new Gauge({
    name: 'dispatch_transactions', help: 'Transactions running, and waiting for a slot (critical first), in this process', labelNames: ['state'], registers,
    collect() {
      this.set({ state: 'active' }, transactions.active);
      this.set({ state: 'waiting' }, transactions.waiting);
      // Critical work and accepts waiting for a slot: should stay near 0 even in a burst.
      this.set({ state: 'waiting_urgent' }, transactions.waitingAhead(1));
    },
  });
  new Gauge({
    name: 'dispatch_outbox_carries', help: 'Outbox carries (a commit\'s effects, a first round among them) running and waiting for a carrier, in this process', labelNames: ['state'], registers,
    collect() {
      const now = carries();
      this.set({ state: 'active' }, now.active);
      this.set({ state: 'waiting' }, now.waiting);
    },
  });
  new Gauge({
    name: 'dispatch_heroes_stale', help: 'On-duty heroes whose last ping is older than LOCATION_FRESH_MS', registers,
    async collect() { await safely(async () => { this.set(await positions.countStale(await onDutyHeroIds(sql), Date.now() - freshMs)); }); },
  });
}
