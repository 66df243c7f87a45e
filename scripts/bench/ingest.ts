// ingest_pings_per_s and rss_mb_per_10k_sockets. The same hero sockets (spread over
// several generator processes: the fd limit bounds sockets per process) connect first
// to the real server, then to a bare Socket.IO + pipelined GEOADD server. With the
// sockets idle (one keepalive ping each per 10 s) we read the server's RSS; then the
// generators ramp the ping rate step by step until the server stops keeping up.
import type { Child } from './ipc.ts';
import { deletePrefix, uid } from '../lib/lifecycle.ts';
import { round } from '../lib/stats.ts';
import {
  child, CITY, config, insertHeroes, metric, note, progress, onCleanup, rssMb, sleep, startServerUnderTest,
  around, type BenchHero, type Metric, type Opts,
} from './common.ts';

const SOCKETS_PER_GENERATOR = 2_500;
const KEEPALIVE_MS = 10_000;

interface Step { offered: number; emitted: number; written: number; keptUp: boolean }
interface Side { rssBase: number; rssLoaded: number; steps: Step[]; connected: number }

async function withGenerators<T>(heroes: BenchHero[], label: string, run: (gens: Child[]) => Promise<T>): Promise<T> {
  const n = Math.max(2, Math.ceil(heroes.length / SOCKETS_PER_GENERATOR));
  const gens = Array.from({ length: n }, (_, i) => child('./loadgen.ts', `${label} gen${i}`));
  try {
    return await run(gens);
  } finally {
    await Promise.all(gens.map((g) => g.call('close').catch(() => null)));
    await Promise.all(gens.map((g) => g.stop()));
  }
}

async function connectAll(gens: Child[], url: string, heroes: BenchHero[]): Promise<number> {
  const share = Math.ceil(heroes.length / gens.length);
  const results = await Promise.all(gens.map((g, i) => g.call<{ connected: number }>('connect', {
    url, heroes: heroes.slice(i * share, (i + 1) * share), concurrency: 50, keepaliveMs: KEEPALIVE_MS,
  })));
  return results.reduce((n, r) => n + r.connected, 0);
}

const emittedTotal = async (gens: Child[]) =>
  (await Promise.all(gens.map((g) => g.call<{ emitted: number }>('count')))).reduce((n, c) => n + c.emitted, 0);

/** Steps the offered rate up until the target falls behind (or the generators cannot offer more). */
async function ramp(label: string, gens: Child[], rates: number[], windowMs: number, written: () => Promise<number>): Promise<Step[]> {
  const steps: Step[] = [];
  const measure = async (offered: number): Promise<Step> => {
    const [e0, w0] = await Promise.all([emittedTotal(gens), written()]);
    const t0 = performance.now();
    await sleep(windowMs);
    const [e1, w1] = await Promise.all([emittedTotal(gens), written()]);
    const s = (performance.now() - t0) / 1000;
    const step = { offered, emitted: (e1 - e0) / s, written: (w1 - w0) / s, keptUp: false };
    step.keptUp = step.written >= 0.95 * step.emitted;
    progress(`${label}: offered ${offered}/s, generators sent ${Math.round(step.emitted)}/s, written to Redis ${Math.round(step.written)}/s${step.keptUp ? '' : ' (falling behind)'}`);
    return step;
  };
  const setRate = (perSecond: number) => Promise.all(gens.map((g) => g.call('rate', { perSecond: perSecond / gens.length })));
  for (const offered of rates) {
    await setRate(offered);
    await sleep(1_000); // settle into the new rate
    let step = await measure(offered);
    // This machine is shared: a window that fell behind is measured once more, after a
    // pause that drains the backlog (so it cannot pass on the backlog's late writes);
    // the same rule for the server and the bare component.
    if (!step.keptUp) {
      await setRate(0);
      await sleep(3_000);
      await setRate(offered);
      await sleep(1_000);
      step = await measure(offered);
    }
    steps.push(step);
    if (!step.keptUp) break;
    if (step.emitted < 0.9 * offered) { progress(`${label}: the generators cannot offer more on this machine; stopping the ramp`); break; }
  }
  await setRate(0);
  return steps;
}

async function measureSide(label: string, heroes: BenchHero[], url: string, pid: number, rates: number[], windowMs: number,
  written: () => Promise<number>): Promise<Side> {
  return withGenerators(heroes, label, async (gens) => {
    await sleep(1_000);
    const rssBase = rssMb(pid);
    progress(`${label}: RSS before sockets ${round(rssBase, 1)} MB; connecting ${heroes.length} hero sockets over ${gens.length} generator processes`);
    const t0 = performance.now();
    const connected = await connectAll(gens, url, heroes);
    progress(`${label}: ${connected}/${heroes.length} connected in ${round((performance.now() - t0) / 1000, 1)} s; idling 8 s`);
    await sleep(8_000);
    const rssLoaded = rssMb(pid);
    progress(`${label}: RSS with ${connected} idle sockets ${round(rssLoaded, 1)} MB`);
    const steps = await ramp(label, gens, rates, windowMs, written);
    return { rssBase, rssLoaded, steps, connected };
  });
}

/** Highest written rate among steps the target kept up with; else the best it managed. */
function sustained(side: Side): { value: number; keptUp: boolean } {
  const ok = side.steps.filter((s) => s.keptUp);
  // A kept-up step counts for what was both sent and written (no credit for backlog).
  if (ok.length) return { value: Math.max(...ok.map((s) => Math.min(s.written, s.emitted))), keptUp: true };
  return { value: Math.max(0, ...side.steps.map((s) => s.written)), keptUp: false };
}

const steps = (side: Side) => side.steps
  .map((x) => `${Math.round(x.written)}${x.keptUp ? '' : '✗'}${x.emitted < 0.9 * x.offered ? '⌁' : ''}`).join(', ');

export async function ingestAndMemory(o: Opts): Promise<Metric[]> {
  const n = o.quick ? 2_000 : 10_000;
  const rates = [5_000, 10_000, 12_500, 15_000, 17_500, 20_000, 25_000, 30_000, 35_000, 40_000, 50_000, 60_000];
  const windowMs = o.quick ? 5_000 : 10_000;
  const place = () => around(CITY, 40);

  // The server. Its per-hero ping budget is raised so it does not cap the aggregate
  // (every ping still goes through the token bucket, schema and writer).
  const server = await startServerUnderTest('ingest', { PINGS_PER_10S: '100000' });
  let srv: Side;
  let crumbs = 'none: this build keeps no breadcrumbs';
  try {
    // Every other hero holds an assignment (as Postgres says, and Redis learns on the
    // first ping), so half the pings go through the breadcrumb sampler (issue 15).
    const heroes = await insertHeroes(server.sql, n, place, undefined, (i) => (i % 2 ? 'assigned' : 'available'));
    srv = await measureSide('ingest server', heroes, `${server.url}/hero`, server.pid, rates, windowMs,
      () => server.counter('dispatch_location_pings_total'));
    crumbs = await server.sql<{ n: number }[]>`select count(*)::int as n from breadcrumbs`
      .then(([r]) => `${r?.n ?? 0} written to Postgres during the run`, () => crumbs);
  } finally {
    await server.stop();
  }

  // The bare component with the same sockets and the same ramp.
  const prefix = uid('benchbare', 4);
  const dropBare = onCleanup(() => deletePrefix(prefix));
  const bare = child('./bare-io.ts', 'ingest bare');
  let bar: Side;
  try {
    const { port } = await bare.call<{ port: number }>('listen', { redisUrl: config.REDIS_URL, key: `${prefix}:pos` });
    const heroes = Array.from({ length: n }, (_, i) => ({ id: `bare-${i}`, token: 'none', ...place() }));
    bar = await measureSide('ingest bare', heroes, `http://127.0.0.1:${port}/hero`, bare.pid, rates, windowMs,
      async () => (await bare.call<{ written: number }>('count')).written);
  } finally {
    await bare.call('close').catch(() => null);
    await bare.stop();
    await dropBare();
  }

  const s = sustained(srv);
  const b = sustained(bar);
  const scale = (side: Side) => side.rssBase + ((side.rssLoaded - side.rssBase) * 10_000) / Math.max(1, side.connected);
  const rss = scale(srv);
  const rssBare = scale(bar);
  note(`ingest: ${n} hero sockets; rate ramped ${rates[0]}→${rates[rates.length - 1]}/s in ${windowMs / 1000} s windows; "sustained" = highest rate written to Redis (dispatch_location_pings_total / bare GEOADD count) in a step where written ≥ 95% of sent (a step that fell behind is measured once more before the ramp stops). `
    + `written/s per step (✗ fell behind, ⌁ generators could not send the offered rate): server ${steps(srv)}; bare ${steps(bar)}`
    + `${s.keptUp ? '' : ' — the server fell behind even at the lowest step; value is the best rate it reached'}.`);
  note(`ingest: half the heroes hold an assignment, so their pings are sampled into breadcrumbs; breadcrumbs: ${crumbs}.`);
  note(`memory: RSS ${round(srv.rssBase)} MB idle → ${round(srv.rssLoaded)} MB with ${srv.connected} sockets (bare ${round(bar.rssBase)} → ${round(bar.rssLoaded)} MB)`
    + `${srv.connected === 10_000 ? '' : `; per-10k figure = idle RSS + (loaded − idle) × 10,000 / ${srv.connected}`}.`);
  return [
    metric('ingest_pings_per_s', round(s.value, 0), 'pings/s', round(b.value, 0), '≥ 20,000 and ≥ 0.5× bare', s.keptUp && s.value >= 20_000 && s.value >= 0.5 * b.value),
    metric('rss_mb_per_10k_sockets', round(rss, 1), 'MB', round(rssBare, 1), '≤ 1,024', rss <= 1024),
  ];
}
