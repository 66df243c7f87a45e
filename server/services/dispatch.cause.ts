// Why a dispatch round failed, in words a dispatcher can act on. The short code is
// stored with the failure; the raw error travels with it for whoever fixes the cause.
import { MAX_INDEXABLE_LAT } from '../../shared/schemas.ts';
import { isTransient } from '../db.ts';
import { isAppError } from '../errors.ts';

export type FailureCause = 'location_unindexable' | 'hero_index_damaged' | 'redis_unavailable' | 'database_unavailable' | 'unknown';

const WORDS: Record<FailureCause, string> = {
  location_unindexable: `its location cannot be searched for heroes (the map index only covers latitudes within ±${MAX_INDEXABLE_LAT.toFixed(2)}°)`,
  hero_index_damaged: 'the hero location index (Redis) holds data of the wrong type and cannot be searched',
  redis_unavailable: 'the hero location store (Redis) cannot be reached',
  database_unavailable: 'the database did not answer in time',
  unknown: 'an unexpected server error',
};

// ioredis's own words for a connection it lost or cannot make (socket errors such as
// ECONNREFUSED reach commands as these); Postgres's are its error codes (isTransient).
const REDIS_DOWN = /Connection is closed|Stream isn't writeable|max retries per request|Command timed out|^LOADING|^READONLY|^MASTERDOWN|^CLUSTERDOWN/i;

export function classifyFailure(err: unknown): FailureCause {
  const message = err instanceof Error ? err.message : String(err);
  if (/invalid longitude,latitude pair/i.test(message)) return 'location_unindexable';
  if (/WRONGTYPE/.test(message)) return 'hero_index_damaged';
  if (REDIS_DOWN.test(message) || (err as { name?: string })?.name === 'MaxRetriesPerRequestError') return 'redis_unavailable';
  if (isTransient(err) || (isAppError(err) && err.code === 'unavailable')) return 'database_unavailable';
  return 'unknown';
}

export const causeInWords = (cause: string): string => WORDS[cause as FailureCause] ?? WORDS.unknown;

/** The error as stored and shown: one line, bounded. */
export function rawError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s+/g, ' ').slice(0, 300);
}

/** "failed 3 times in a row because …" with the raw error, for alert details. */
export function failuresInWords(f: { failures: number; cause: string; last_error: string }): string {
  const times = f.failures === 1 ? 'once' : `${f.failures} times in a row`;
  return `automatic dispatch failed ${times} because ${causeInWords(f.cause)} (error: ${f.last_error})`;
}
