// The per-transaction outbox buffer. Rows enqueued inside a transaction run by
// `withOutbox` are written in one statement at its end: a dispatch round's statuses,
// screen push, offers and expiry jobs cost one round trip. What it returns is what the
// committing process hands to its OutboxSink after the commit.
import type { Tx } from '../db.ts';
import { insertOutbox } from '../store/outbox.store.ts';
import type { Written } from './outbox.sink.ts';
import { isUrgent, type OutboxEntry, type OutboxTopic, type OutboxTopics } from './outbox.topics.ts';

const buffers = new WeakMap<Tx, OutboxEntry[]>();

/** Runs `work` with this transaction's outbox buffered, then writes the rows (still inside the transaction). */
export async function withOutbox<T>(tx: Tx, work: (tx: Tx) => Promise<T>): Promise<{ value: T; written: Written[] }> {
  buffers.set(tx, []);
  const value = await work(tx);
  const entries = buffers.get(tx) ?? [];
  buffers.delete(tx);
  const ids = await insertOutbox(tx, entries);
  return { value, written: ids.map((id, i) => ({ id, incidentId: entries[i]!.incidentId, urgent: isUrgent(entries[i]!) })) };
}

export function enqueue<T extends OutboxTopic>(tx: Tx, topic: T, payload: OutboxTopics[T], incidentId: string | null): void {
  enqueueMany(tx, [{ topic, payload, incidentId } as OutboxEntry]);
}

/** Outbox rows are written only inside `withOutbox` (services' inTx), whose commit carries them out. */
export function enqueueMany(tx: Tx, entries: OutboxEntry[]): void {
  const buffer = buffers.get(tx);
  if (!buffer) throw new Error('outbox rows are written inside inTx only');
  buffer.push(...entries);
}
