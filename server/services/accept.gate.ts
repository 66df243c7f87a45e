// Accepts for one incident, in this process, one at a time (a 50-hero race would
// otherwise queue 50 transactions on the incident's row lock, each holding one of the
// pool's few connections), and a memory of offers this process saw close, so the
// racers behind the winner are answered without a transaction. Postgres still decides
// every race, including those between processes: the memory only ever holds what a
// committed transaction wrote, and a closed offer never reopens.
//
// It also remembers whose each offer this process pushed is and which incident it is
// for (facts that never change once the offer is committed), so the racers of a round
// reach their incident's queue without a read each: 50 reads ahead of the winner's
// transaction were most of a race's wait on two cores.
import type { RefusalReason } from '../../shared/domain.ts';
import { KeyedMutex } from '../concurrency/keyed-mutex.ts';

const REMEMBERED = 20_000; // offers; a race's losers ask within milliseconds
const OFFERS_KNOWN = 20_000; // offers; a hero answers within the offer's window

/** What never changes about a committed offer. */
export interface OfferFacts { heroId: string; incidentId: string }

export class AcceptGate {
  private readonly perIncident = new KeyedMutex();
  private readonly closed = new Map<string, RefusalReason>();
  private readonly pushed = new Map<string, OfferFacts>();

  run<T>(incidentId: string, work: () => Promise<T>): Promise<T> {
    return this.perIncident.run(incidentId, work);
  }

  /** Why this offer can no longer be accepted, if a commit in this process closed it. */
  refusal(offerId: string): RefusalReason | undefined {
    return this.closed.get(offerId);
  }

  /** Call only after the transaction that closed these offers committed. */
  remember(offerIds: string[], reason: RefusalReason): void {
    for (const id of offerIds) this.closed.set(id, reason);
    bound(this.closed, REMEMBERED);
  }

  /** Call only with an offer read from a committed transaction (the outbox's push). */
  offerPushed(offerId: string, facts: OfferFacts): void {
    this.pushed.set(offerId, facts);
    bound(this.pushed, OFFERS_KNOWN);
  }

  /** Whose this offer is and its incident, if this process pushed it; otherwise read it. */
  offerFacts(offerId: string): OfferFacts | undefined {
    return this.pushed.get(offerId);
  }
}

/** Maps iterate in insertion order: drop the oldest beyond `max`. */
function bound(map: Map<string, unknown>, max: number): void {
  for (const id of map.keys()) {
    if (map.size <= max) break;
    map.delete(id);
  }
}
