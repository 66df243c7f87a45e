// Verifies every trail in the database, page by page (issue 15). Each page's heads
// and trails are read in one repeatable-read snapshot, so a server still writing
// cannot make a trail look longer than its head.
import { basename } from 'node:path';
import type { Sql } from '../db.ts';
import { countIncidents, headsAfter, trailsOf } from '../store/audit.store.ts';
import { readArchive } from './audit.archive.ts';
import { verifyTrail, type TrailResult } from './audit.verifier.ts';

export interface ScanProgress { done: number; total: number }

export interface ScanSummary {
  incidents: number;
  events: number;
  unchained: number;
  /** Every broken trail, in id order. */
  broken: TrailResult[];
}

const PAGE = 200;

export const emptySummary = (): ScanSummary => ({ incidents: 0, events: 0, unchained: 0, broken: [] });

export function tally(summary: ScanSummary, r: TrailResult): void {
  summary.incidents++;
  summary.events += r.events;
  summary.unchained += r.unchained;
  if (r.broken) summary.broken.push(r);
}

export async function verifyDatabase(sql: Sql, opts: { only?: string; onProgress?: (p: ScanProgress) => void } = {}): Promise<ScanSummary> {
  const summary = emptySummary();
  const total = await countIncidents(sql, opts.only);
  let after = '';
  for (;;) {
    const results = await sql.begin('isolation level repeatable read read only', async (tx) => {
      const heads = await headsAfter(tx, after, PAGE, opts.only);
      const trails = await trailsOf(tx, heads.map((h) => h.id));
      return heads.map((h) => verifyTrail(h, trails.get(h.id) ?? []));
    });
    if (results.length === 0) break;
    for (const r of results) tally(summary, r);
    after = results[results.length - 1]!.incidentId;
    opts.onProgress?.({ done: summary.incidents, total });
  }
  return summary;
}

/** The same check over archive files; progress counts files. */
export async function verifyArchives(paths: string[], opts: { only?: string; onProgress?: (p: ScanProgress) => void } = {}): Promise<ScanSummary> {
  const summary = emptySummary();
  for (const [i, path] of paths.entries()) {
    for await (const { line, record, error } of readArchive(path)) {
      if (!record) {
        tally(summary, { incidentId: `${basename(path)}:${line}`, events: 0, unchained: 0,
          broken: { kind: 'edited', seq: 0, message: `${basename(path)} line ${line} is not an archived incident: ${error}` } });
        continue;
      }
      if (opts.only && record.head.id !== opts.only) continue;
      const r = verifyTrail(record.head, record.events);
      if (r.broken) r.broken.message += ` (archive ${basename(path)}, line ${line})`;
      tally(summary, r);
    }
    opts.onProgress?.({ done: i + 1, total: paths.length });
  }
  return summary;
}
