// The per-transaction outbox buffer. Rows enqueued inside a transaction run by
// `withOutbox` are written in one statement at its end, sent with the COMMIT: a dispatch
// round's statuses, screen push, offers and expiry jobs cost no round trip of their own. What it returns is what the
// committing process hands to its OutboxSink after the commit.
import type { Tx } from '../db.ts';
import { insertOutbox, type Carrier } from '../store/outbox.store.ts';
import type { Written } from './outbox.sink.ts';
import { isUrgent, type OutboxEntry, type OutboxRow, type OutboxTopic, type OutboxTopics } from './outbox.topics.ts';

const buffers = new WeakMap<Tx, OutboxEntry[]>();

/**
 * The rows' insert, settled: it is sent last and not waited for, so the transaction's
 * COMMIT goes out right behind it, in the same round trip. If the insert fails, Postgres
 * turns that COMMIT into a rollback (postgres.js resolves it all the same): the caller
 * must read this after the commit and treat `ok: false` as "nothing was written".
 */
export type WrittenRows = Promise<{ ok: true; written: Written[] } | { ok: false; error: unknown }>;

/**
 * Runs `work` with this transaction's outbox buffered, then sends the rows' insert
 * (still inside the transaction), naming the process that carries them out: `carrier`
 * is asked once the rows are known, told whether any is urgent (a critical incident's).
 * Returns without waiting for the insert (see WrittenRows).
 */
export async function withOutbox<T>(tx: Tx, work: (tx: Tx) => Promise<T>, carrier: (urgent: boolean) => Carrier | null = () => null): Promise<{ value: T; written: WrittenRows }> {
  buffers.set(tx, []);
  const value = await work(tx);
  const entries = buffers.get(tx) ?? [];
  buffers.delete(tx);
  if (entries.length === 0) return { value, written: Promise.resolve({ ok: true, written: [] }) };
  // A critical incident's rows are carried out together and first (the relay carries
  // an incident's rows in one carry): each of them is as urgent as the most urgent. The
  // carrier is asked for those and for the rest apart: a batch of reports with one
  // critical among them must not keep the others from the relay pass when carriers are
  // busy (the pass hands their rounds to BullMQ's workers).
  const critical = new Set(entries.flatMap((e) => (isUrgent(e) && e.incidentId ? [e.incidentId] : [])));
  const urgent = entries.map((e) => isUrgent(e) || (e.incidentId !== null && critical.has(e.incidentId)));
  const forUrgent = urgent.includes(true) ? carrier(true) : null;
  const forRest = urgent.includes(false) ? carrier(false) : null;
  const by = urgent.map((u) => (u ? forUrgent : forRest));
  // Serialised once: Postgres stores this JSON, and the rows carried out from memory
  // are read back from it, so they are exactly what a relay pass would read.
  const json = JSON.stringify(entries.map((e, i) => ({ ...e, own: by[i] !== null })));
  const stored = JSON.parse(json) as OutboxEntry[];
  // Settled at once: a rejection read only after the commit must not count as unhandled.
  const written: WrittenRows = insertOutbox(tx, json, forUrgent ?? forRest).then((ids) => ({
    ok: true as const,
    written: ids.map((id, i) => {
      const e = entries[i]!;
      const row = { id, topic: e.topic, incident_id: e.incidentId, payload: stored[i]!.payload } as OutboxRow;
      return { id, incidentId: e.incidentId, urgent: urgent[i]!, row, carrier: by[i]?.key ?? null };
    }),
  }), (error: unknown) => ({ ok: false as const, error }));
  return { value, written };
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
