// The outbox: side effects written in the same transaction as the change that asked
// for them, relayed after commit (server/workers/outbox.relay.ts). Nothing else
// starts work, so a crash can delay an effect but never lose it.
import type { Tx, Sql } from '../db.ts';
import type { Severity } from '../../shared/domain.ts';
import type { Alert, IncidentView, OfferPush } from '../../shared/types.ts';
import type { HeroStatusChange } from './heroes.store.ts';

export interface OutboxTopics {
  /** Start (or retry, after `delayMs`) a dispatch round; severity orders the queue. */
  dispatch: { incidentId: string; delayMs: number; severity?: Severity };
  'offer:expire': { offerId: string; incidentId: string; expiresAt: number };
  'push:offer': { heroId: string; offer: OfferPush };
  'push:withdrawn': { heroId: string; offerId: string; reason: string };
  'push:released': { heroId: string; incidentId: string; reason: string };
  'push:session': { heroId: string };
  /** The incident as this transaction committed it: every version reaches the screens. */
  'push:incident': { incident: IncidentView; coReporters?: string[] };
  'hero:status': HeroStatusChange;
  alert: Alert;
}
export type OutboxTopic = keyof OutboxTopics;

export interface OutboxRow<T extends OutboxTopic = OutboxTopic> {
  id: string; // bigint
  topic: T;
  incident_id: string | null;
  payload: OutboxTopics[T];
}

export function enqueue<T extends OutboxTopic>(tx: Tx, topic: T, payload: OutboxTopics[T], incidentId: string | null): void {
  enqueueMany(tx, [{ topic, payload, incidentId } as OutboxEntry]);
}

export type OutboxEntry = { [T in OutboxTopic]: { topic: T; payload: OutboxTopics[T]; incidentId: string | null } }[OutboxTopic];

/** What a transaction wrote to the outbox, for the process that commits it to carry out. */
export interface Written { id: string; incidentId: string | null; urgent: boolean }

// Rows enqueued inside `inTx` are buffered and written in one statement at its end:
// a dispatch round's statuses, screen push, offers and expiry jobs cost one round trip.
const buffers = new WeakMap<Tx, OutboxEntry[]>();

/** From now on this transaction's rows are written by `flushOutbox`. */
export function bufferOutbox(tx: Tx): void {
  buffers.set(tx, []);
}

/** Writes the buffered rows; what it returns is for the committing process to carry out. */
export async function flushOutbox(tx: Tx): Promise<Written[]> {
  const entries = buffers.get(tx) ?? [];
  buffers.delete(tx);
  const ids = await insertOutbox(tx, entries);
  return ids.map((id, i) => ({ id, incidentId: entries[i]!.incidentId, urgent: isUrgent(entries[i]!) }));
}

/** Work on a critical incident: carried out ahead of the rest when there is a backlog. */
function isUrgent(e: OutboxEntry): boolean {
  if (e.topic === 'dispatch') return e.payload.severity === 'critical';
  if (e.topic === 'push:offer') return e.payload.offer.incident.severity === 'critical';
  return false;
}

/** Buffers rows for `flushOutbox`: outbox rows are written only through `inTx`, whose commit carries them out. */
export function enqueueMany(tx: Tx, entries: OutboxEntry[]): void {
  const buffer = buffers.get(tx);
  if (!buffer) throw new Error('outbox rows are written inside inTx only');
  buffer.push(...entries);
}

/** Inserts in the entries' order; returns the new ids in that order. */
async function insertOutbox(tx: Tx, entries: OutboxEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const rows = await tx<{ id: string }[]>`
    insert into outbox (topic, incident_id, payload)
    select e->>'topic', e->>'incidentId', e->'payload'
      from jsonb_array_elements(${tx.json(entries as never)}) with ordinality as t(e, n)
     order by n
    returning id`;
  // Ids are drawn in insert order, which is the entries' order: sorted, they pair up.
  return rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
}

/** Claims due rows; rows another relay holds are skipped, not waited for. */
export async function claimOutbox(tx: Tx, limit: number): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`select id, topic, incident_id, payload from outbox order by id limit ${limit} for update skip locked`;
}

/** Claims these rows if still there and nobody else holds them (the committing process's fast path). */
export async function claimOutboxIds(tx: Tx, ids: string[]): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`select id, topic, incident_id, payload from outbox where id = any(${ids}::bigint[]) order by id for update skip locked`;
}

export async function deleteOutbox(tx: Tx, ids: string[]): Promise<void> {
  if (ids.length) await tx`delete from outbox where id = any(${ids}::bigint[])`;
}

export async function outboxLag(sql: Sql): Promise<{ rows: number; oldestMs: number }> {
  const [r] = await sql<{ rows: number; oldest_ms: number | null }[]>`
    select count(*)::int as rows, (extract(epoch from now() - min(created_at)) * 1000)::float8 as oldest_ms from outbox`;
  return { rows: r?.rows ?? 0, oldestMs: r?.oldest_ms ?? 0 };
}
