// Breadcrumbs: samples the positions of heroes holding an offer or an assignment into
// Postgres, off the ping path. The location writer hands over each flushed ping with
// the status Redis gave it; this keeps a point when the rule says so, buffers it, and
// writes the buffer with one multi-row insert every BREADCRUMB_FLUSH_MS. A ping never
// waits for Postgres: sampling is a few Map operations, and the buffer is bounded, so a
// Postgres that is away or slow costs the oldest points (counted and logged), never
// memory or a ping.
//
// The rule ("one every 5 s or 50 m"): a hero's ping is kept when it is their first
// while holding work (or since they were forgotten), or it is at least `everyMs` after
// the last point kept for them, or at least `minM` metres from it. So a
// hero standing still leaves one point every `everyMs`, and a moving one at least one
// every `minM` metres, never more than their pings (PINGS_PER_10S bounds those).
import type { Config } from '../config.ts';
import type { Sql } from '../db.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { type Breadcrumb, breadcrumbDay, ensureBreadcrumbDays, insertBreadcrumbs } from '../store/breadcrumbs.store.ts';

export interface BreadcrumbSamplerDeps {
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  /** Keep a point at least this often while a hero holds work (BREADCRUMB_EVERY_MS). */
  everyMs: number;
  /** ...and whenever they moved at least this far since the last one kept (BREADCRUMB_MIN_M). */
  minM: number;
  /** How often the buffer is written (BREADCRUMB_FLUSH_MS). */
  flushMs: number;
  /** Points held while Postgres is away; beyond it the oldest are dropped (BREADCRUMB_BUFFER_MAX). */
  maxBuffered: number;
}

/** The sampler's settings from the configuration. */
export function breadcrumbSettings(config: Config): Pick<BreadcrumbSamplerDeps, 'everyMs' | 'minM' | 'flushMs' | 'maxBuffered'> {
  return { everyMs: config.BREADCRUMB_EVERY_MS, minM: config.BREADCRUMB_MIN_M, flushMs: config.BREADCRUMB_FLUSH_MS, maxBuffered: config.BREADCRUMB_BUFFER_MAX };
}

/** Points written per statement; a larger backlog takes several flushes. */
const MAX_PER_INSERT = 5_000;
/** Heroes remembered at most; past it the idle are forgotten, then the longest remembered. */
const MAX_HEROES = 100_000;
/** A hero not pinged while holding work for this long is forgotten (their next point is kept). */
const FORGET_AFTER_MS = 120_000;
/** How often the remembered heroes are swept for idle ones (a pass over the Map). */
const SWEEP_EVERY_MS = 10_000;
/** At most one warning about dropped points per this interval. */
const WARN_EVERY_MS = 10_000;
/** After a failure to create a day partition, wait this long before trying again. */
const PARTITION_RETRY_MS = 60_000;

interface LastKept { at: number; lat: number; lng: number; seenAt: number }

const RAD = Math.PI / 180;
/**
 * Distance in metres, equirectangular: within 0.1% of the great circle over the few
 * hundred metres the rule compares (and one cosine per ping instead of four trig calls).
 */
function metres(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  let dLng = Math.abs(b.lng - a.lng);
  if (dLng > 180) dLng = 360 - dLng;
  const x = dLng * RAD * Math.cos(((a.lat + b.lat) / 2) * RAD);
  const y = (b.lat - a.lat) * RAD;
  return 6_371_000 * Math.sqrt(x * x + y * y);
}

export class BreadcrumbSampler {
  /** Last point kept per hero, updated in place (so the Map is not churned per ping). */
  private readonly last = new Map<string, LastKept>();
  private sweptAt = 0;
  /** The buffer: a queue as an array with a moving head, so dropping the oldest is O(1). */
  private points: Breadcrumb[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private stopped = false;
  /** Day partitions known to exist (or settled in the default partition). */
  private readonly days = new Set<string>();
  private daysRetryAt = 0;
  private droppedSinceWarn = 0;
  private lastWarnAt = 0;

  constructor(private readonly d: BreadcrumbSamplerDeps) {}

  /** Points waiting to be written. */
  get buffered(): number { return this.points.length - this.head; }

  /** Heroes whose last kept point is remembered. */
  get remembered(): number { return this.last.size; }

  /** A ping of a hero holding an offer or an assignment, at `at` (epoch ms). */
  sample(heroId: string, at: number, lat: number, lng: number): void {
    if (at - this.sweptAt >= SWEEP_EVERY_MS) this.forgetIdle(at);
    const prev = this.last.get(heroId);
    if (prev) {
      prev.seenAt = at;
      if (at - prev.at < this.d.everyMs && metres(prev, { lat, lng }) < this.d.minM) return;
      prev.at = at;
      prev.lat = lat;
      prev.lng = lng;
    } else {
      if (this.last.size >= MAX_HEROES) this.forgetIdle(at, true);
      this.last.set(heroId, { at, lat, lng, seenAt: at });
    }
    if (this.stopped) return;
    this.points.push({ heroId, at, lat, lng });
    const over = this.buffered - this.d.maxBuffered;
    if (over > 0) this.drop(over);
    this.schedule();
  }

  /** A ping of a hero holding nothing: their next holding period starts afresh. */
  forget(heroId: string): void {
    this.last.delete(heroId);
  }

  /** Writes up to one statement's worth of buffered points; the rest wait for the next timer. */
  async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing || this.buffered === 0) return;
    const batch = this.points.slice(this.head, this.head + MAX_PER_INSERT);
    this.head += batch.length;
    this.compact();
    this.flushing = this.write(batch).finally(() => {
      this.flushing = null;
      if (!this.stopped) this.schedule();
    });
    await this.flushing;
  }

  /** Stops sampling and writes what is left (a batch that fails is given up, and logged). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    while (this.buffered > 0) {
      const before = this.buffered;
      await this.flush();
      if (this.buffered >= before) {
        this.d.log.warn({ points: this.buffered }, 'breadcrumbs not written at shutdown: Postgres did not take them');
        this.drop(this.buffered, false);
        break;
      }
    }
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.buffered === 0) return;
    this.timer = setTimeout(() => void this.flush(), this.d.flushMs);
    this.timer.unref();
  }

  private async write(batch: Breadcrumb[]): Promise<void> {
    try {
      await this.ensureDays(batch);
      await insertBreadcrumbs(this.d.sql, batch);
      this.d.metrics.breadcrumbsKept.inc(batch.length);
    } catch (err) {
      // Back at the front (they are the oldest), then the bound drops the oldest.
      this.points = batch.concat(this.points.slice(this.head));
      this.head = 0;
      const over = this.buffered - this.d.maxBuffered;
      if (over > 0) this.drop(over, false);
      this.warn(err);
    }
  }

  /** The day partitions of this batch, and of tomorrow, before the insert (see migration 008). */
  private async ensureDays(batch: Breadcrumb[]): Promise<void> {
    const now = Date.now();
    if (now < this.daysRetryAt) return;
    const last = batch[batch.length - 1]!.at;
    const wanted = [batch[0]!.at, last, last + 86_400_000];
    const missing = wanted.filter((at) => !this.days.has(breadcrumbDay(at).name));
    if (missing.length === 0) return;
    try {
      for (const day of await ensureBreadcrumbDays(this.d.sql, missing)) this.days.add(day);
      if (missing.some((at) => !this.days.has(breadcrumbDay(at).name))) this.daysRetryAt = now + PARTITION_RETRY_MS;
    } catch (err) {
      // The default partition takes the rows meanwhile.
      this.daysRetryAt = now + PARTITION_RETRY_MS;
      this.d.log.warn({ err }, 'breadcrumb day partition not created; rows go to the default partition');
    }
  }

  private drop(n: number, warn = true): void {
    this.head += n;
    this.droppedSinceWarn += n;
    this.d.metrics.breadcrumbsDropped.inc(n);
    this.compact();
    if (warn) this.warn();
  }

  private warn(err?: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    const dropped = this.droppedSinceWarn;
    this.droppedSinceWarn = 0;
    this.d.log.warn({ ...(err ? { err } : {}), dropped, buffered: this.buffered, max: this.d.maxBuffered },
      dropped > 0 ? 'breadcrumbs dropped: the buffer is full while Postgres is away or slow' : 'breadcrumbs not written; kept in the buffer');
  }

  private compact(): void {
    if (this.head > 1_024 && this.head * 2 > this.points.length) {
      this.points = this.points.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Forgets heroes not pinged for FORGET_AFTER_MS (one pass, every SWEEP_EVERY_MS); when
   * `full`, also the longest remembered until there is room for one more.
   */
  private forgetIdle(now: number, full = false): void {
    this.sweptAt = now;
    for (const [heroId, entry] of this.last) if (now - entry.seenAt >= FORGET_AFTER_MS) this.last.delete(heroId);
    if (!full) return;
    for (const heroId of this.last.keys()) {
      if (this.last.size < MAX_HEROES) break;
      this.last.delete(heroId);
    }
  }
}
