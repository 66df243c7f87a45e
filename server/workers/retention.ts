// The retention job (issue 15, README "What is kept, and for how long"), run by a
// BullMQ job scheduler once per RETENTION_INTERVAL_MS for the whole cluster:
// - finished incidents older than INCIDENT_RETENTION_MS are written to an archive
//   file (gzip JSON lines, with their trail and hash chain) and only then pruned, in
//   the same transaction that locked them: a failed write prunes nothing;
// - breadcrumbs older than BREADCRUMB_RETENTION_MS are removed;
// - first of all, each complete UTC day not anchored yet gets its audit anchor
//   (server/audit/audit.anchoring.ts), before any of its incidents can be archived.
// (Idempotency keys are purged by the sweeper, server/workers/sweeper.ts.)
import { randomUUID } from 'node:crypto';
import { anchorCompleteDays } from '../audit/audit.anchoring.ts';
import { writeArchive } from '../audit/audit.archive.ts';
import type { ServiceContext } from '../services/context.ts';
import { pruneBreadcrumbs } from '../store/breadcrumbs.store.ts';
import { archiveRecords, deleteIncidents, lockExpiredIncidents } from '../store/retention.store.ts';

export interface RetentionReport { daysAnchored: string[]; incidentsArchived: number; archives: string[]; breadcrumbsPruned: number }

/** Passes per run at most: a long backlog is worked off over several runs. */
const MAX_PASSES = 20;

export async function runRetention(ctx: ServiceContext): Promise<RetentionReport> {
  const { config, log } = ctx;
  const report: RetentionReport = { daysAnchored: [], incidentsArchived: 0, archives: [], breadcrumbsPruned: 0 };
  for (const a of await anchorCompleteDays(ctx.sql)) {
    report.daysAnchored.push(a.day);
    log.info({ day: a.day, anchor: a.anchor, incidents: a.incidents, events: a.events }, 'audit anchor written: keep a copy elsewhere');
  }
  const incidentsBefore = new Date(Date.now() - config.INCIDENT_RETENTION_MS);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const archived = await ctx.sql.begin(async (tx) => {
      const ids = await lockExpiredIncidents(tx, incidentsBefore, config.RETENTION_BATCH);
      if (ids.length === 0) return 0;
      const records = await archiveRecords(tx, ids);
      const deleted = await deleteIncidents(tx, ids);
      // Written (and synced) last, before the commit: a failure before it leaves no file
      // and prunes nothing; a commit that then fails leaves the incidents in Postgres,
      // and the next run archives them again (the verifier accepts the repeat).
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      report.archives.push(await writeArchive(config.ARCHIVE_DIR, `incidents-${stamp}-${randomUUID().slice(0, 8)}`, records));
      return deleted;
    });
    report.incidentsArchived += archived;
    if (archived < config.RETENTION_BATCH) break;
  }
  const crumbsBefore = new Date(Date.now() - config.BREADCRUMB_RETENTION_MS);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const pruned = await pruneBreadcrumbs(ctx.sql, crumbsBefore, 10_000);
    report.breadcrumbsPruned += pruned;
    if (pruned < 10_000) break;
  }
  ctx.metrics.retentionArchived.inc(report.incidentsArchived);
  ctx.metrics.breadcrumbsPruned.inc(report.breadcrumbsPruned);
  if (report.incidentsArchived || report.breadcrumbsPruned) log.info(report, 'retention: archived and pruned');
  return report;
}
