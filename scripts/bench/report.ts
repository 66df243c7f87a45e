// report_to_offer_p50_ms / _p99_ms: POST /v1/incidents → the first `offer` arriving on
// a hero socket, at 500 reports/min spread over a 10 km square with heroes on duty
// there (who accept and resolve at once, so the pool stays free). Side by side, the
// same agent against the bare pipeline (scripts/bench/bare-pipeline.ts).
import type { Child } from './ipc.ts';
import { createSchema, dropStores, pg, uid } from '../lib/lifecycle.ts';
import { pct, round } from '../lib/stats.ts';
import { child, CITY, around, civilianTokens, config, metric, note, onCleanup, progress, target, type Metric, type Opts, type ServerUnderTest } from './common.ts';
import { withScenario } from './scenario.ts';
import type { ReportRow } from './civilian.ts';

export type { ReportRow };
export interface ReportsResult { rows: ReportRow[]; sendS: number; resolved: number; acceptRefused: number }

const RATE = 500;
const SIDE_KM = 10;

/**
 * Report → first offer of the reports that created an incident (201); one that never got
 * an offer counts as Infinity. A 200 is a report linked to an incident already open
 * (same kind within DEDUPE_RADIUS_M): it starts no dispatch, so it has no offer time.
 */
export const offerTimes = (rows: ReportRow[]) => rows.filter((r) => r.status === 201).map((r) => r.offerMs ?? Infinity);

/** The reports answered 201 (a new incident), as `breakdown` takes them. */
export const created = (rows: ReportRow[]) => rows.flatMap((r) => (r.status === 201 && r.id ? [{ id: r.id, sentAt: r.sentAt }] : []));

/** Answers by status ('no answer: <cause>' when the request failed without one). */
export function answers(rows: ReportRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const k = r.status ? String(r.status) : `no answer: ${r.error ?? '?'}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Where report → offer goes, per new incident, from wall clocks on one machine. An
 * incident's created_at is its transaction's start; an offer's is the clock when its row
 * was written (in builds before the report's first round: its round's transaction
 * start). Sent (the first attempt) → report tx start: HTTP, auth, admission, and any
 * refused attempts before it. Report tx start → first offer row: a lone report's own
 * transaction up to the offers' insert; otherwise commit, outbox relay, BullMQ,
 * candidate search and the round's transaction. First offer row → offer on the hero:
 * the rest of that transaction, its commit, the relay, the Socket.IO adapter.
 */
export async function breakdown(server: ServerUnderTest, agent: Child, created: { id: string; sentAt: number }[]): Promise<string> {
  const ids = created.map((r) => r.id);
  const db = new Map<string, { inc: number; off: number | null; offerId: string | null }>();
  for (let i = 0; i < ids.length; i += 5_000) {
    const part = await server.sql<{ id: string; inc: number; off: number | null; offer_id: string | null }[]>`
      select i.id, extract(epoch from i.created_at) * 1000 as inc, extract(epoch from o.created_at) * 1000 as off, o.id as offer_id
        from incidents i left join lateral (select id, created_at from offers where incident_id = i.id order by created_at limit 1) o on true
       where i.id = any(${ids.slice(i, i + 5_000)})`;
    for (const r of part) db.set(r.id, { inc: Number(r.inc), off: r.off === null ? null : Number(r.off), offerId: r.offer_id });
  }
  const seen = await agent.call<{ offers: { offerId: string; at: number }[] }>('offersAndWithdrawals');
  const heard = new Map(seen.offers.map((o) => [o.offerId, o.at]));
  const a: number[] = [], b: number[] = [], c: number[] = [];
  for (const r of created) {
    const d = db.get(r.id);
    if (!d) continue;
    a.push(d.inc - r.sentAt);
    if (d.off !== null) b.push(d.off - d.inc);
    const at = d.offerId ? heard.get(d.offerId) : undefined;
    if (at !== undefined && d.off !== null) c.push(at - d.off);
  }
  const f = (xs: number[]) => `${round(pct(xs, 0.5), 1)} / ${round(pct(xs, 0.99), 1)}`;
  return `where the time goes, p50 / p99 ms: sent → report tx start ${f(a)}; report tx start → first offer row ${f(b)}; first offer row → offer on the hero ${f(c)}`;
}

function summary(label: string, r: ReportsResult): string {
  const created = r.rows.filter((x) => x.status === 201);
  const never = created.filter((x) => x.offerMs === null).length;
  const http = r.rows.map((x) => x.httpMs);
  return `${label}: ${r.rows.length} reports in ${r.sendS.toFixed(1)} s, answers ${JSON.stringify(answers(r.rows))} (200 = linked to an open incident), ${never} new incidents without an offer; `
    + `HTTP p50 ${round(pct(http, 0.5), 1)} / p99 ${round(pct(http, 0.99), 1)} ms`;
}

/** The bare pipeline: its own schema with a one-table incident store, its own GEO key. */
async function bareReports(heroes: number, args: Record<string, unknown> & { perMinute: number; seconds: number }): Promise<ReportsResult> {
  const schema = uid('bench_bare_', 4);
  const prefix = uid('benchbare', 4);
  const dropBare = onCleanup(() => dropStores([{ schema, prefix }]));
  await createSchema(schema, `create table incidents (
    id text primary key, kind text not null, severity text not null, lat double precision not null, lng double precision not null,
    reported_by text not null, created_at timestamptz not null default now())`);
  const bare = child('./bare-pipeline.ts', 'report bare');
  const agent = child('./agent.ts', 'report bare agent');
  try {
    const { port } = await bare.call<{ port: number }>('listen', { databaseUrl: config.DATABASE_URL, schema, redisUrl: config.REDIS_URL, geoKey: `${prefix}:pos` });
    const url = `http://127.0.0.1:${port}`;
    const list = Array.from({ length: heroes }, (_, i) => ({ id: `bare-${i}`, token: 'none', ...around(CITY, SIDE_KM) }));
    await agent.call('connect', { url: `${url}/hero`, heroes: list, behaviour: 'ignore', pingEveryMs: 10_000 });
    progress(`report bare: ${heroes} heroes connected; sending ${args.perMinute}/min for ${args.seconds} s`);
    const bar = await agent.call<ReportsResult>('reports', { ...args, url });
    progress(summary('report bare', bar));
    return bar;
  } finally {
    await agent.call('close').catch(() => null);
    await Promise.all([agent.stop(), bare.call('close').catch(() => null)]);
    await bare.stop();
    await dropBare();
  }
}

/** The server's own count of what it sent Postgres (issue 14); a build without it reads 0. */
const STATEMENTS = 'dispatch_db_statements_total';

/** Statements and transactions per new incident's whole life (report, round, accept, three steps, carries, sweeps). */
function perIncident(statements: number, transactions: number, incidents: number): string {
  if (statements === 0 || incidents === 0) return 'statements per incident: not counted by this build';
  return `Postgres statements per incident (its whole life, with the sweeps meanwhile) ${round(statements / incidents, 1)}, of them transactions ${round(transactions / incidents, 1)}`;
}

/**
 * What one Postgres round trip costs on this machine back to back, and after the
 * machine was idle for 20 ms (as between reports at 500/min): a virtual machine whose
 * idle cores sleep pays a wake-up on every hop of a sparse chain.
 */
async function idleRoundTrips(): Promise<string> {
  const sql = pg(undefined, 1);
  try {
    await sql`select 1`;
    const times = async (gapMs: number) => {
      const ms: number[] = [];
      for (let i = 0; i < 200; i++) {
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
        const t0 = performance.now();
        await sql`select ${i}::int as n`;
        ms.push(performance.now() - t0);
      }
      return ms;
    };
    const [hot, idle] = [await times(0), await times(20)];
    return `one plain Postgres round trip p50 ${round(pct(hot, 0.5), 3)} ms back to back, ${round(pct(idle, 0.5), 3)} ms after 20 ms idle`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function reportToOffer(o: Opts): Promise<Metric[]> {
  const heroes = o.quick ? 200 : 400;
  const seconds = o.quick ? 40 : 120;
  const civilians = await civilianTokens(Math.ceil((RATE / 60) * seconds));
  const args = { civilians, perMinute: RATE, seconds, center: CITY, sideKm: SIDE_KM, settleMs: 5_000 };

  let committed = '';
  let statements = '';
  const srv = await withScenario('report', {}, { n: heroes, place: () => around(CITY, SIDE_KM), behaviour: 'resolve' },
    async ({ server, agent }) => {
      const count = () => Promise.all([server.counter(STATEMENTS), server.counter(STATEMENTS, 'kind="transaction"')]);
      const before = await count();
      const r = await agent.call<ReportsResult>('reports', { ...args, url: server.url });
      const after = await count();
      statements = perIncident(after[0] - before[0], after[1] - before[1], created(r.rows).length);
      committed = await breakdown(server, agent, created(r.rows));
      return r;
    });
  progress(summary('report server', srv));

  // Against a --baseline build only the server's figure is wanted: the bare one is this run's.
  const bar = target.name ? null : await bareReports(heroes, args);

  const s = offerTimes(srv.rows);
  const b = bar ? offerTimes(bar.rows) : [];
  const [p50, p99, b50, b99] = [pct(s, 0.5), pct(s, 0.99), pct(b, 0.5), pct(b, 0.99)];
  note(`${summary('report→offer, server', srv)}; report→offer on the hero p90 ${round(pct(s, 0.9), 1)} ms; ${committed}; ${statements}; severities in turn critical/high/medium/low; ${heroes} heroes in a ${SIDE_KM} km square accept and resolve at once.`);
  if (bar) note(`${summary('report→offer, bare (insert tx + GEOSEARCH + emit)', bar)}; ${await idleRoundTrips()}.`);
  const bareOr = (x: number) => (bar ? round(x, 2) : null);
  return [
    metric('report_to_offer_p50_ms', round(p50, 2), 'ms', bareOr(b50), '≤ 10', p50 <= 10),
    metric('report_to_offer_p99_ms', round(p99, 2), 'ms', bareOr(b99), '≤ 30', p99 <= 30),
  ];
}
