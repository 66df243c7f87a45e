// Prometheus metrics with conventional names and base units (seconds, totals).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    reportsTotal: new Counter({ name: 'dispatch_reports_total', help: 'Incident reports by outcome', labelNames: ['outcome'], registers: [registry] }),
    reportToFirstOffer: new Histogram({ name: 'dispatch_report_to_first_offer_seconds', help: 'Time from report to the first offer sent', buckets: LATENCY_BUCKETS, registers: [registry] }),
    reportToAssigned: new Histogram({ name: 'dispatch_report_to_assigned_seconds', help: 'Time from report to every slot filled', buckets: LATENCY_BUCKETS, registers: [registry] }),
    offersTotal: new Counter({ name: 'dispatch_offers_total', help: 'Offers by outcome', labelNames: ['outcome'], registers: [registry] }),
    acceptConflicts: new Counter({ name: 'dispatch_accept_conflicts_total', help: 'Accepts refused because another hero or assignment won', labelNames: ['reason'], registers: [registry] }),
    pingsTotal: new Counter({ name: 'dispatch_location_pings_total', help: 'Location pings written to Redis', registers: [registry] }),
    outboxRelayed: new Counter({ name: 'dispatch_outbox_relayed_total', help: 'Outbox rows carried out, by the committing process (carry) or a relay pass (pass)', labelNames: ['topic', 'mode'], registers: [registry] }),
    outboxFailures: new Counter({ name: 'dispatch_outbox_failures_total', help: 'Outbox rows that failed and will be retried', labelNames: ['topic'], registers: [registry] }),
    incidentsStuck: new Counter({ name: 'dispatch_incidents_stuck_total', help: 'Incidents found past their deadline by the sweeper', labelNames: ['state'], registers: [registry] }),
    notificationsTotal: new Counter({ name: 'dispatch_notifications_total', help: 'Push/SMS/voice messages by outcome', labelNames: ['channel', 'outcome'], registers: [registry] }),
    socketsConnected: new Gauge({ name: 'dispatch_sockets_connected', help: 'Connected sockets by namespace (this process)', labelNames: ['namespace'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Levels read from the truth at scrape time, so every process reports the cluster's view. */
export interface LiveProbes {
  openIncidentsByState(): Promise<Record<string, number>>;
  outboxLag(): Promise<{ rows: number; oldestMs: number }>;
  queueDepths(): Promise<Record<string, Record<string, number>>>;
  staleHeroes(): Promise<number>;
}

export function addLiveGauges(m: Metrics, probes: LiveProbes): void {
  const registers = [m.registry];
  // A probe that fails (a dependency down) leaves the gauge at its last value.
  const safely = async (run: () => Promise<void>) => { try { await run(); } catch { /* readiness reports it */ } };
  new Gauge({
    name: 'dispatch_open_incidents', help: 'Incidents not yet resolved or cancelled, by state', labelNames: ['state'], registers,
    async collect() {
      await safely(async () => {
        this.reset();
        for (const [state, n] of Object.entries(await probes.openIncidentsByState())) this.set({ state }, n);
      });
    },
  });
  new Gauge({
    name: 'dispatch_outbox_pending_rows', help: 'Outbox rows not yet carried out', registers,
    async collect() { await safely(async () => { this.set((await probes.outboxLag()).rows); }); },
  });
  new Gauge({
    name: 'dispatch_outbox_lag_seconds', help: 'Age of the oldest outbox row not yet carried out', registers,
    async collect() { await safely(async () => { this.set((await probes.outboxLag()).oldestMs / 1000); }); },
  });
  new Gauge({
    name: 'dispatch_queue_jobs', help: 'BullMQ jobs by queue and state', labelNames: ['queue', 'state'], registers,
    async collect() {
      await safely(async () => {
        for (const [queue, counts] of Object.entries(await probes.queueDepths())) {
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
        }
      });
    },
  });
  new Gauge({
    name: 'dispatch_heroes_stale', help: 'On-duty heroes whose last ping is older than LOCATION_FRESH_MS', registers,
    async collect() { await safely(async () => { this.set(await probes.staleHeroes()); }); },
  });
}
