// Accepts for one incident, in this process, one at a time (a 50-hero race would
// otherwise queue 50 transactions on the incident's row lock, each holding one of the
// pool's few connections), and a memory of offers this process saw close, so the
// racers behind the winner are answered without a transaction. Postgres still decides
// every race, including those between processes: the memory only ever holds what a
// committed transaction wrote, and a closed offer never reopens.
import type { RefusalReason } from '../../shared/domain.ts';
import { KeyedMutex } from '../concurrency/keyed-mutex.ts';

const REMEMBERED = 20_000; // offers; a race's losers ask within milliseconds

export class AcceptGate {
  private readonly perIncident = new KeyedMutex();
  private readonly closed = new Map<string, RefusalReason>();

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
    // Maps iterate in insertion order: drop the oldest.
    for (const id of this.closed.keys()) {
      if (this.closed.size <= REMEMBERED) break;
      this.closed.delete(id);
    }
  }
}
