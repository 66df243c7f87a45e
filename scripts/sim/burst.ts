// A neighbourhood burst (issue 14): for --burst-seconds from --burst-at, civilians in a
// --burst-km square around one spot report at --burst-rate (50× the run's), 10% critical.
// Like the civilian page they honour Retry-After on 503 and 429 and send again with the
// same Idempotency-Key, and give up 30 s after their first attempt. One row per report
// (burst-account.ts turns them into figures); incidents answered 2xx join the run's
// (Stats.noteReported), so the run's own checks cover them too.
import { randomUUID } from 'node:crypto';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { problem } from '../lib/wire.ts';
import type { BurstOptions } from './args.ts';
import type { BurstFailures, BurstRow } from './burst-account.ts';
import { KINDS, WHAT } from './civilians.ts';
import type { City, Pt } from './city.ts';
import { http, type HttpResult, withRetry } from './http.ts';
import type { Rng } from './rng.ts';
import type { Stats } from './stats.ts';
import { teamSize } from './teams.ts';
import type { Incident, Severity } from './types.ts';
import { Sleeper } from './sleeper.ts';

/** A civilian's patience: nothing is sent or waited for past this after the first attempt. */
export const BURST_PATIENCE_MS = 30_000;
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Only against a server answering Retry-After: 0 over and over; patience ends first otherwise. */
const MAX_ATTEMPTS = 60;
const SEVERITY: Record<Severity, number> = { critical: 10, high: 20, medium: 40, low: 30 };
/** Reports per burst civilian: with their retries, far below REPORTS_PER_MINUTE. */
const REPORTS_PER_CIVILIAN = 2;
const WATCH_MS = 1_000;

export interface BurstDeps {
  url: string;
  plan: BurstOptions;
  /** The neighbourhood's centre, and its name for descriptions and the report. */
  spot: Pt;
  where: string;
  city: City;
  /** Its own generator: the run's civilians draw the same with or without a burst. */
  rng: Rng;
  stats: Stats;
  runId: string;
  signCivilian: (id: string) => Promise<string>;
  /** Our heroes free to take an offer now (Fleet.free). */
  freeHeroes: () => number;
}

export class Burst {
  readonly rows: BurstRow[] = [];
  readonly failures: BurstFailures = { overloaded: 0, throttled: 0, server: 0, network: 0, retryAfterMs: [] };
  freeAtStart: number | null = null;
  fewestFree: number | null = null;
  private tokens: string[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private state: 'waiting' | 'sending' | 'done' = 'waiting';
  private timer: NodeJS.Timeout | null = null;
  private watch: NodeJS.Timeout | null = null;
  private readonly sleeper = new Sleeper();
  private loop: IntervalHistogram | null = null;

  constructor(private readonly d: BurstDeps) {}

  /** Signs the burst civilians' tokens before the run, so the burst starts at full rate. */
  async prepare(): Promise<void> {
    const expected = (this.d.plan.ratePerMin / 60) * this.d.plan.seconds;
    const n = Math.max(20, Math.ceil((expected * 1.2) / REPORTS_PER_CIVILIAN));
    this.tokens = await Promise.all(Array.from({ length: n }, (_, i) => this.d.signCivilian(`sim-${this.d.runId}-burst-${i}`)));
  }

  /** The burst begins `delayMs` from now, unless the run stops first. */
  schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.send(), delayMs);
  }

  /** For the live line: empty before the burst and once it has settled. */
  progress(): string {
    if (this.state === 'waiting' || (this.state === 'done' && this.inflight.size === 0)) return '';
    const ok = this.rows.filter((r) => r.outcome === 'created' || r.outcome === 'linked').length;
    return `burst ${ok}/${this.rows.length}${this.inflight.size ? ` (+${this.inflight.size})` : ''}`;
  }

  /** No new report; those in flight go on until answered or out of patience. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.state = 'done';
    this.sleeper.wake();
  }

  async drain(): Promise<void> {
    while (this.inflight.size) await Promise.race(this.inflight);
    this.stopWatch();
  }

  private async send(): Promise<void> {
    if (this.state !== 'waiting') return;
    this.state = 'sending';
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    this.freeAtStart = this.d.freeHeroes();
    this.fewestFree = this.freeAtStart;
    this.watch = setInterval(() => {
      this.fewestFree = Math.min(this.fewestFree ?? Number.POSITIVE_INFINITY, this.d.freeHeroes());
      if (this.state === 'done' && this.inflight.size === 0) this.stopWatch();
    }, WATCH_MS);
    this.watch.unref(); // never what keeps the process alive
    const end = performance.now() + this.d.plan.seconds * 1000;
    const meanGapMs = 60_000 / this.d.plan.ratePerMin;
    let due = performance.now();
    let n = 0;
    // Poisson arrivals on a schedule: a late timer sends what was due at once.
    while (this.state === 'sending') {
      due += this.d.rng.exp(meanGapMs);
      if (due >= end) break;
      await this.sleeper.until(due);
      if (this.state !== 'sending') break;
      const p = this.report(n++).catch((e: unknown) => this.d.stats.note('burst report crashed', String(e)));
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
    this.state = 'done';
  }

  private stopWatch(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    this.loop?.disable();
  }

  /** Our own event-loop delay from the burst's start until it settled (histogram in ns). */
  loopDelayMs(): { p99: number; max: number } | null {
    const h = this.loop;
    return h && h.count > 0 ? { p99: h.percentile(99) / 1e6, max: h.max / 1e6 } : null;
  }

  private async report(n: number): Promise<void> {
    const { rng, stats, city } = this.d;
    const kind = rng.weighted(KINDS);
    const severity = rng.weighted(SEVERITY);
    const half = this.d.plan.km / 2;
    const p = city.clamp({ x: this.d.spot.x + rng.range(-half, half), y: this.d.spot.y + rng.range(-half, half) });
    const body = { kind, severity, location: city.toLatLng(p), description: `${rng.pick(WHAT[kind])} in ${this.d.where} (sim burst report ${n})` };
    const token = this.tokens[n % this.tokens.length]!;
    const key = randomUUID();
    const row: BurstRow = { severity, firstAt: performance.now(), attempts: 0, outcome: 'sending', status: null, id: null };
    this.rows.push(row);
    const giveUpAt = row.firstAt + BURST_PATIENCE_MS;
    const attempt = async (): Promise<HttpResult> => {
      row.attempts += 1;
      row.status = 0; // until answered
      // A whole number: AbortSignal.timeout refuses a fraction.
      const timeoutMs = Math.max(1, Math.floor(Math.min(ATTEMPT_TIMEOUT_MS, giveUpAt - performance.now())));
      const res = await http('POST', `${this.d.url}/v1/incidents`, { token, body, headers: { 'idempotency-key': key }, timeoutMs });
      row.status = res.status;
      if ((res.status === 503 || res.status === 429) && res.retryAfterMs !== null) this.failures.retryAfterMs.push(res.retryAfterMs);
      return res;
    };
    const res = await withRetry(attempt, {
      rng, maxAttempts: MAX_ATTEMPTS, giveUpAt: () => giveUpAt,
      onFailure: (k, detail) => {
        const f = this.failures;
        if (k === 'throttled') f.throttled += 1;
        else if (k === 'network') f.network += 1;
        else if (row.status === 503) f.overloaded += 1;
        else f.server += 1;
        // 503 and 429 are the burst working as designed; anything else is worth an example.
        if (k === 'network' || (k === 'server' && row.status !== 503)) stats.note(`burst attempt failed (${k})`, detail);
      },
    });
    if (!res) {
      row.outcome = 'gaveUp';
      return;
    }
    const incident = res.body as Incident | null;
    if ((res.status !== 201 && res.status !== 200) || !incident || typeof incident.id !== 'string') {
      row.outcome = 'refused';
      stats.note('burst report refused', `HTTP ${res.status} ${problem(res.body)}`);
      return;
    }
    row.id = incident.id;
    row.outcome = res.status === 201 ? 'created' : 'linked';
    stats.noteReported(incident.id, { t0: row.firstAt, severity, kind, hotspot: this.d.where, size: teamSize(incident) });
  }
}
