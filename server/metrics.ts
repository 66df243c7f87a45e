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
    outboxRelayed: new Counter({ name: 'dispatch_outbox_relayed_total', help: 'Outbox rows carried out', labelNames: ['topic'], registers: [registry] }),
    outboxFailures: new Counter({ name: 'dispatch_outbox_failures_total', help: 'Outbox rows that failed and will be retried', labelNames: ['topic'], registers: [registry] }),
    incidentsStuck: new Counter({ name: 'dispatch_incidents_stuck_total', help: 'Incidents found past their deadline by the sweeper', labelNames: ['state'], registers: [registry] }),
    socketsConnected: new Gauge({ name: 'dispatch_sockets_connected', help: 'Connected sockets by namespace (this process)', labelNames: ['namespace'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
