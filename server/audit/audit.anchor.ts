// Daily anchors over the audit chains (issue 15). A day's digest covers the head of
// every incident with events that day (its last seq that day and that event's hash),
// sorted by incident; the anchor chains the digest to the day before. Because each head
// commits to its whole chain, an anchor kept outside the database shows a trail that
// was rewritten consistently (every hash recomputed), which the chain alone cannot.
import { createHash } from 'node:crypto';
import { canonicalJson, GENESIS } from './audit.chain.ts';

export interface DayHead { incidentId: string; seq: number; hash: string }

export interface Anchor { day: string; prevAnchor: string; digest: string; incidents: number; events: number; anchor: string }

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** `YYYY-MM-DD` of a UTC day and its bounds. */
export function utcDay(ms: number): { day: string; from: Date; to: Date } {
  const from = new Date(Math.floor(ms / 86_400_000) * 86_400_000);
  return { day: from.toISOString().slice(0, 10), from, to: new Date(from.getTime() + 86_400_000) };
}

export function dayDigest(heads: DayHead[]): string {
  const sorted = [...heads].sort((a, b) => (a.incidentId < b.incidentId ? -1 : a.incidentId > b.incidentId ? 1 : 0));
  return sha256(canonicalJson(sorted.map((h) => [h.incidentId, h.seq, h.hash])));
}

export function makeAnchor(day: string, prevAnchor: string | null, heads: DayHead[], events: number): Anchor {
  const prev = prevAnchor ?? GENESIS;
  const digest = dayDigest(heads);
  const incidents = heads.length;
  return { day, prevAnchor: prev, digest, incidents, events, anchor: sha256(canonicalJson({ v: 1, day, prev, digest, incidents, events })) };
}

/** Each incident's last event among these (one day's events), with how many there were. */
export function headsOf(events: { incidentId: string; seq: number; hash: string | null }[]): { heads: DayHead[]; events: number } {
  const last = new Map<string, DayHead>();
  for (const e of events) {
    const seen = last.get(e.incidentId);
    if (!seen || e.seq > seen.seq) last.set(e.incidentId, { incidentId: e.incidentId, seq: e.seq, hash: e.hash ?? '' });
  }
  return { heads: [...last.values()], events: events.length };
}
