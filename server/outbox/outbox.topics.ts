// What the outbox carries: each topic and its payload. A row is written in the same
// transaction as the change that asked for it (outbox.buffer.ts) and carried out after
// the commit (outbox.relay.ts, outbox.executor.ts); its SQL is server/store/outbox.store.ts.
import type { HeroMode, HeroStatus, Severity } from '../../shared/domain.ts';
import type { Alert, IncidentView, OfferPush } from '../../shared/types.ts';

/** A hero's recomputed status, with the version that keeps Redis from going backwards. */
export interface HeroStatusChange { id: string; status: HeroStatus; version: number; mode: HeroMode }

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
  /** An offer was decided (accepted, declined, or expired: an ignore), for the hero's ranking history (issue 16). */
  'stats:offer': { heroId: string; at: number; outcome: 'accepted' | 'declined' | 'expired'; answerMs: number | null };
  /** A member reached on_scene: actual assign → on_scene seconds over the offer's physics ETA (issue 16). */
  'stats:arrival': { heroId: string; at: number; ratio: number };
}
export type OutboxTopic = keyof OutboxTopics;

/** A row as stored and claimed. */
export interface OutboxRow<T extends OutboxTopic = OutboxTopic> {
  id: string; // bigint
  topic: T;
  incident_id: string | null;
  payload: OutboxTopics[T];
}

/** A row to write: its topic, payload, and the incident whose order it keeps (if any). */
export type OutboxEntry = { [T in OutboxTopic]: { topic: T; payload: OutboxTopics[T]; incidentId: string | null } }[OutboxTopic];

/**
 * Work on a critical incident: carried out ahead of the rest when there is a backlog.
 * Every machine step pushes its incident (`push:incident`), so each transaction that
 * changed a critical incident is urgent. It must be: an incident's carries run one at a
 * time, in order, and a critical incident's round waited seconds behind a linked
 * report's carry of the same incident that was queued as lesser work.
 */
export function isUrgent(e: OutboxEntry): boolean {
  if (e.topic === 'dispatch') return e.payload.severity === 'critical';
  if (e.topic === 'push:offer') return e.payload.offer.incident.severity === 'critical';
  if (e.topic === 'push:incident') return e.payload.incident.severity === 'critical';
  return false;
}
