// A hero's status follows from the truth (duty, pending offers, active assignments).
// Every transaction that changes one of those refreshes it here, and the change goes
// through the outbox to the Redis copy (versioned) and the dispatchers' maps.
import type { Tx } from '../db.ts';
import type { HeroStatusChange } from '../outbox/outbox.topics.ts';
import { enqueueMany } from '../outbox/outbox.buffer.ts';
import { recomputeHeroStatus } from '../store/heroes.store.ts';

export async function refreshHeroStatus(tx: Tx, heroIds: string[]): Promise<HeroStatusChange[]> {
  const changes = await recomputeHeroStatus(tx, heroIds);
  if (changes.length) enqueueMany(tx, changes.map((c) => ({ topic: 'hero:status' as const, payload: c, incidentId: null })));
  return changes;
}
