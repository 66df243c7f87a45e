// What each BullMQ job runs: a watched dispatch round (delayed rounds and retries; a
// first round runs inline in the outbox carry), an offer's expiry, a sweep, retention.
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import type { DispatchRounds } from '../services/dispatch.watch.ts';
import { expireOffer } from '../services/offer.service.ts';
import type { QueueHandlers } from './queues.ts';
import { runRetention } from './retention.ts';
import { sweep } from './sweeper.ts';

export interface JobDeps {
  ctx: ServiceContext;
  positions: HeroPositions;
  /** The process's watched rounds, shared with the outbox executor. */
  rounds: DispatchRounds;
}

export function jobHandlers(d: JobDeps): QueueHandlers {
  return {
    dispatch: (job) => d.rounds.run(job.incidentId),
    expire: (job) => expireOffer(d.ctx, job.offerId),
    sweep: () => sweep(d.ctx, d.positions),
    retention: () => runRetention(d.ctx),
  };
}
