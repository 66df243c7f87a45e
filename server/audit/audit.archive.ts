// Archive files of finished incidents (issue 15 retention): gzip-compressed JSON
// lines, one incident per line with its row, its trail and hash chain, its offers,
// assignments and breadcrumbs. The verifier reads them with the same check it runs
// on the database, so pruning an incident never leaves its trail unverifiable.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { TrailEvent, TrailHead } from './audit.verifier.ts';

export const ARCHIVE_FORMAT = 'dispatch-archive/1';
export const ARCHIVE_SUFFIX = '.jsonl.gz';

export interface ArchivedIncident {
  format: typeof ARCHIVE_FORMAT;
  archivedAt: string;
  head: TrailHead;
  /** The incident row as stored, for readers other than the verifier. */
  incident: Record<string, unknown>;
  events: TrailEvent[];
  offers: Record<string, unknown>[];
  assignments: Record<string, unknown>[];
  breadcrumbs: Record<string, unknown>[];
}

/**
 * Writes the records to `dir/name` through a temporary file, synced, then renamed: a
 * crash mid-write leaves no half file that looks like an archive.
 */
export async function writeArchive(dir: string, name: string, records: ArchivedIncident[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name + ARCHIVE_SUFFIX);
  const partial = `${path}.partial`;
  await pipeline(Readable.from(records.map((r) => `${JSON.stringify(r)}\n`)), createGzip(), createWriteStream(partial, { flags: 'wx' }));
  // On disk before the caller deletes what it holds.
  const file = await open(partial, 'r');
  try { await file.sync(); } finally { await file.close(); }
  await rename(partial, path);
  return path;
}

export async function archiveFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith(ARCHIVE_SUFFIX)).sort().map((f) => join(dir, f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Each record of one archive file, in order; a line that is not a record is reported, not skipped. */
export async function* readArchive(path: string): AsyncGenerator<{ line: number; record: ArchivedIncident | null; error?: string }> {
  const lines = createInterface({ input: createReadStream(path).pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    try {
      const record = JSON.parse(text) as ArchivedIncident;
      if (record.format !== ARCHIVE_FORMAT || !record.head || !Array.isArray(record.events)) throw new Error(`not a ${ARCHIVE_FORMAT} record`);
      yield { line: n, record };
    } catch (err) {
      yield { line: n, record: null, error: (err as Error).message };
    }
  }
}
