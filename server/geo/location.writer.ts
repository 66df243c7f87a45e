// Location pings, buffered and written to Redis in one script call per flush, never
// one round trip per ping. Only the latest ping per hero in a flush matters. Heroes
// Redis says hold an offer or an assignment are handed to the breadcrumb sampler,
// which never makes a flush wait for Postgres.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { HeroStatus } from '../../shared/domain.ts';
import type { BreadcrumbSampler } from './breadcrumbs.sampler.ts';
import type { HeroPositions } from './positions.redis.ts';
import type { HeroMapSink, StatusHealer, UnknownPing } from './status.healer.ts';

export interface LocationWriterDeps {
  positions: HeroPositions;
  flushMs: number;
  log: Logger;
  metrics: Metrics;
  /** Told what Redis said of each pinged hero, for the dispatchers' map. */
  heroMap: HeroMapSink;
  /** Rebuilds the status of heroes Redis did not know (new, or Redis restarted empty). */
  healer: Pick<StatusHealer, 'heal'>;
  /** Samples the positions of heroes holding work into Postgres (optional). */
  breadcrumbs?: Pick<BreadcrumbSampler, 'sample' | 'forget'>;
}

const MAX_PER_FLUSH = 2_000;

export class LocationWriter {
  private buffer = new Map<string, { lat: number; lng: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;

  constructor(private readonly d: LocationWriterDeps) {}

  add(heroId: string, lat: number, lng: number): void {
    this.buffer.set(heroId, { lat, lng });
    if (!this.timer && !this.flushing) this.timer = setTimeout(() => this.flush(), this.d.flushMs);
  }

  async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing || this.buffer.size === 0) return;
    const batch = [...this.buffer].slice(0, MAX_PER_FLUSH).map(([heroId, p]) => ({ heroId, ...p }));
    for (const p of batch) this.buffer.delete(p.heroId);
    const now = Date.now();
    this.flushing = this.d.positions.writePings(now, batch).then((statuses) => {
      this.d.metrics.pingsTotal.inc(batch.length);
      const unknown: UnknownPing[] = [];
      const crumbs = this.d.breadcrumbs;
      batch.forEach((p, i) => {
        const status = statuses[i] ?? '';
        if (crumbs) {
          if (status === 'offered' || status === 'assigned') crumbs.sample(p.heroId, now, p.lat, p.lng);
          else crumbs.forget(p.heroId);
        }
        if (status === '') unknown.push({ ...p, at: now });
        else this.d.heroMap.mark({ id: p.heroId, status: status as HeroStatus, location: { lat: p.lat, lng: p.lng }, lastSeenAt: now });
      });
      if (unknown.length) this.d.healer.heal(unknown);
    }, (err) => {
      // Positions are derived data: a lost batch is replaced by the next pings.
      this.d.log.warn({ err, pings: batch.length }, 'location batch not written');
    }).finally(() => {
      this.flushing = null;
      if (this.buffer.size > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.d.flushMs);
    });
    await this.flushing;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}
