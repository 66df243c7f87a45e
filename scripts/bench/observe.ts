// What the machine did during a measured window: the server's event-loop delay (from
// its prom-client default metrics at GET /metrics), the load generators' own, and CPU
// per process (cpu.ts). prom-client resets its event-loop histogram whenever the
// server computes a scrape, so one scrape at each mark gives that window's p50/p99/max;
// nothing else may scrape /metrics meanwhile (ServerUnderTest.counter does; no group
// uses both), and marks must be more than the server's METRICS_CACHE_MS (1 s) apart.
// The histogram samples every 10 ms, so an idle loop reads about 10 ms, not 0.
import { Agent, get } from 'node:http';
import { cpuWindow, formatCpu, type CpuShare } from './cpu.ts';
import type { Child } from './ipc.ts';

export interface Loop { p50: number; p99: number; max: number }
export interface Window { loop: Loop | null; generators: { label: string; loop: Loop | null }[]; cpu: CpuShare }

const GAUGES = { p50: 'nodejs_eventloop_lag_p50_seconds', p99: 'nodejs_eventloop_lag_p99_seconds', max: 'nodejs_eventloop_lag_max_seconds' };
/** Under a burst a new connection waits behind thousands in the listen backlog: the scrape is allowed that long. */
const SCRAPE_MS = 30_000;
/** Below the server's 5 s keepAliveTimeout, so the scrape's connection is already open when a mark comes. */
const WARM_MS = 2_000;

/** One kept-alive connection to the server, kept warm with /healthz between scrapes. */
function connection(url: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const fetchText = (path: string, ms: number) => new Promise<string>((resolve, reject) => {
    const req = get(`${url}${path}`, { agent, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
  let busy = false;
  const warm = setInterval(() => {
    if (busy) return;
    busy = true;
    fetchText('/healthz', WARM_MS).catch(() => null).finally(() => { busy = false; });
  }, WARM_MS);
  return { fetchText, close() { clearInterval(warm); agent.destroy(); } };
}

function parseLoop(text: string): Loop | null {
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  const loop = { p50: read(GAUGES.p50), p99: read(GAUGES.p99), max: read(GAUGES.max) };
  return Number.isFinite(loop.p99) ? loop : null;
}

export interface Observer {
  /** Closes the current window (CPU read at once, then the loop figures) and opens the next. */
  mark(): Promise<Window>;
  close(): void;
}

/** `generators`: the load generator processes, each answering `loop` (agent.ts). */
export async function observer(server: { url: string; pids: number[] }, generators: { label: string; child: Child }[]): Promise<Observer> {
  const conn = connection(server.url);
  const scrape = () => conn.fetchText('/metrics', SCRAPE_MS).then(parseLoop, () => null);
  // A generator too busy to answer in 10 s gives no reading rather than holding the window open.
  const loops = () => Promise.all(generators.map((g) => Promise.race([
    g.child.call<Loop>('loop').catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), 10_000).unref()),
  ])));
  const groups = { server: server.pids, generators: generators.map((g) => g.child.pid) };
  await Promise.all([scrape(), loops()]); // start afresh
  let cpu = cpuWindow(groups);
  return {
    async mark() {
      const used = cpu.end();
      cpu = cpuWindow(groups);
      const [loop, own] = await Promise.all([scrape(), loops()]);
      return { loop, generators: generators.map((g, i) => ({ label: g.label, loop: own[i]! })), cpu: used };
    },
    close: () => conn.close(),
  };
}

const ms = (x: number) => (x >= 100 ? Math.round(x).toString() : x.toFixed(1));
export const formatLoop = (l: Loop | null) => (l ? `p50 ${ms(l.p50)} / p99 ${ms(l.p99)} / max ${ms(l.max)} ms` : `no reading (/metrics did not answer in ${SCRAPE_MS / 1000} s)`);

export function formatWindow(w: Window): string {
  return `server event-loop delay ${formatLoop(w.loop)}; ${w.generators.map((g) => `${g.label}'s ${formatLoop(g.loop)}`).join('; ')}; CPU ${formatCpu(w.cpu)}`;
}
