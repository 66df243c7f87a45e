// Checks one incident's audit trail (issue 15): the hash chain, link by link, then a
// replay through the pure machine against the stored snapshot. Pure: the same check
// runs on rows read from Postgres and on rows read from an archive file.
import { replayIncident } from '../../machines/incident.logic.ts';
import type { IncidentEvent, IncidentInput } from '../../machines/incident.machine.ts';
import { canonicalJson, eventHash, GENESIS, type ChainedEvent } from './audit.chain.ts';

/** An audit row as stored: the chained fields, and the hashes written with it. */
export interface TrailEvent extends Omit<ChainedEvent, 'incidentId'> {
  prevHash: string | null;
  hash: string | null;
}

/** What the incident row says of its trail. */
export interface TrailHead {
  id: string;
  version: number;
  auditHead: string | null;
  state: string;
  snapshot: unknown;
}

export type BreakKind = 'edited' | 'deleted' | 'inserted' | 'replay';

export interface TrailBreak {
  kind: BreakKind;
  /** The first event where the trail stops being what was written. */
  seq: number;
  message: string;
}

export interface TrailResult {
  incidentId: string;
  events: number;
  /** Events written before the chain existed (migration 007): counted, not checked. */
  unchained: number;
  broken: TrailBreak | null;
}

const verifies = (e: TrailEvent, id: string, seq: number): boolean =>
  e.hash !== null && e.prevHash !== null && eventHash(e.prevHash, { ...e, incidentId: id, seq }) === e.hash;

/** Events must be in seq order (as read: `order by seq`). */
export function verifyTrail(head: TrailHead, events: TrailEvent[]): TrailResult {
  const id = head.id;
  const result = (broken: TrailBreak | null, unchained = 0): TrailResult => ({ incidentId: id, events: events.length, unchained, broken });
  if (events.length === 0) return result({ kind: 'deleted', seq: 1, message: `incident ${id} has no audit events (version ${head.version})` });

  let prev = GENESIS;
  let expect = 1;
  let unchained = 0;
  let chained = false;
  const hashes: string[] = []; // stored hashes of the rows checked so far, in order
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const at = (kind: BreakKind, seq: number, why: string) => result({ kind, seq, message: `incident ${id}, seq ${seq}: ${why}` }, unchained);
    if (e.seq > expect) {
      const gap = e.seq - 1 === expect ? `seq ${expect} is missing` : `seq ${expect}–${e.seq - 1} are missing`;
      return at('deleted', expect, `${gap} (the trail jumps from ${expect - 1} to ${e.seq})`);
    }
    if (e.hash === null) {
      if (chained) return at('edited', e.seq, 'its hash was removed');
      unchained++;
      expect = e.seq + 1;
      continue;
    }
    if (!chained) { chained = true; prev = GENESIS; }
    if (!verifies(e, id, e.seq)) {
      const next = events[i + 1];
      if (next && next.prevHash === prev && verifies(next, id, next.seq - 1)) {
        return at('inserted', e.seq, `this row is not in the chain: seq ${next.seq} was written as seq ${next.seq - 1} and links to seq ${e.seq - 1}`);
      }
      if (verifies(e, id, e.seq - 1)) return at('inserted', e.seq - 1, `a row was inserted here: seq ${e.seq} was written as seq ${e.seq - 1}`);
      if (verifies(e, id, e.seq + 1)) return at('deleted', e.seq, `a row was deleted here: seq ${e.seq} was written as seq ${e.seq + 1}`);
      return at('edited', e.seq, 'its content no longer matches its hash');
    }
    if (e.prevHash !== prev) {
      if (hashes.length >= 2 && e.prevHash === hashes[hashes.length - 2]) {
        return at('inserted', e.seq - 1, `this row is not in the chain: seq ${e.seq} links to seq ${e.seq - 2}`);
      }
      return at('edited', e.seq - 1, `its hash was rewritten: seq ${e.seq} links to a different seq ${e.seq - 1}`);
    }
    prev = e.hash;
    hashes.push(e.hash);
    expect = e.seq + 1;
  }

  const last = events[events.length - 1]!;
  const tail = (kind: BreakKind, seq: number, why: string) => result({ kind, seq, message: `incident ${id}, seq ${seq}: ${why}` }, unchained);
  if (head.version > last.seq) return tail('deleted', last.seq + 1, `the trail ends at seq ${last.seq} but the incident is at version ${head.version}`);
  if (head.version < last.seq) return tail('inserted', head.version + 1, `the trail goes on past the incident's version ${head.version} to seq ${last.seq}`);
  if (chained && head.auditHead !== null && head.auditHead !== last.hash) {
    return tail('edited', last.seq, 'its hash is not the head recorded on the incident');
  }

  const replayed = replay(events);
  if (typeof replayed === 'string') return tail('replay', last.seq, `the trail does not replay: ${replayed}`);
  if (canonicalJson(replayed) !== canonicalJson(head.snapshot)) {
    return tail('replay', last.seq, 'the trail replays through the machine to a state other than the stored snapshot');
  }
  return result(null, unchained);
}

function replay(events: TrailEvent[]): unknown {
  const [first, ...rest] = events;
  if (first?.type !== 'REPORTED') return `it starts with ${first?.type ?? 'nothing'}, not REPORTED`;
  try {
    return replayIncident(first.data as IncidentInput, rest.map((e) => ({ type: e.type, ...(e.data as object) }) as IncidentEvent));
  } catch (err) {
    return (err as Error).message;
  }
}
