// The audit trail's hash chain (issue 15). An event's hash is SHA-256 over a canonical
// encoding of the event and the previous event's hash, so editing, deleting or
// inserting one row breaks the chain where it happened. Kept here, apart from the
// store, because the verifier hashes archived events with the very same code.
import { createHash } from 'node:crypto';

/** Bumped if the encoding ever changes; it is part of every hash. */
export const CHAIN_VERSION = 1;
/** The "previous hash" of an incident's first event. */
export const GENESIS = '0'.repeat(64);

/** One audit event as the chain sees it; `atUs` is microseconds since the epoch. */
export interface ChainedEvent {
  incidentId: string;
  seq: number;
  type: string;
  from: string | null;
  to: string;
  actor: string;
  atUs: number;
  data: unknown;
}

/**
 * JSON with object keys sorted at every depth and no insignificant space (in the
 * manner of RFC 8785). `data` goes through JSON first, as it does on its way into
 * jsonb, so what was written and what is read back encode the same.
 */
export function canonicalJson(value: unknown): string {
  return encode(JSON.parse(JSON.stringify(value ?? null)));
}

function encode(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(encode).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${encode(o[k])}`).join(',')}}`;
}

export function eventHash(prev: string, e: ChainedEvent): string {
  const body = canonicalJson({
    v: CHAIN_VERSION, prev, incidentId: e.incidentId, seq: e.seq, type: e.type, from: e.from, to: e.to,
    actor: e.actor, atUs: e.atUs, data: e.data,
  });
  return createHash('sha256').update(body).digest('hex');
}

// Microseconds, as Postgres keeps them. The wall clock has only milliseconds: within
// one, each call counts up a microsecond, so this process's events keep their order.
let lastUs = 0;

/** Now, in microseconds since the epoch; strictly increasing within the process. */
export function nowUs(): number {
  const us = Date.now() * 1000;
  lastUs = us > lastUs ? us : lastUs + 1;
  return lastUs;
}

/** A microsecond time as a timestamptz literal Postgres reads exactly. */
export function usToTimestamp(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}
