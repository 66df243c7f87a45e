// Keeps the cluster's sweeper scheduled. BullMQ's job scheduler runs one sweep per
// SWEEP_INTERVAL_MS for the whole cluster, but a Redis that restarted empty forgets
// it: every process checks once per interval and re-creates it, sweeping at once
// (Redis lost its jobs, so the sweeper's safety net is wanted now). The retention
// job's scheduler is kept the same way (it runs at its own pace, not at once).
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import type { Queues } from './queues.ts';
import { sweep } from './sweeper.ts';

export interface SweepSchedulerDeps {
  ctx: ServiceContext;
  positions: HeroPositions;
  queues: Queues;
}

export class SweepScheduler {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly d: SweepSchedulerDeps) {}

  /** Checks once now, then once per interval. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.d.ctx.config.SWEEP_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.checking) return; // a check still waiting on Redis: do not pile up more
    this.checking = true;
    const { ctx, positions, queues } = this.d;
    try {
      if (await queues.ensureSweeps(ctx.config.SWEEP_INTERVAL_MS)) {
        ctx.log.info('sweep scheduler (re)created; sweeping now');
        await sweep(ctx, positions);
      }
      if (await queues.ensureRetention(ctx.config.RETENTION_INTERVAL_MS)) ctx.log.info('retention scheduler (re)created');
    } catch (err) {
      ctx.log.warn({ err }, 'could not check the sweep scheduler');
    } finally {
      this.checking = false;
    }
  }
}
