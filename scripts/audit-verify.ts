// `npm run audit:verify [-- --incident ID] [--archives DIR | --no-archives] [--expect DAY=ANCHOR]`:
// checks every incident's hash chain and replays its trail through the machine, in
// Postgres and in the retention archives, then recomputes every daily anchor (issue 15;
// `--expect` compares one with a copy kept elsewhere). Prints progress on long runs and
// a summary with the latest anchor; exits 1 naming the first broken link of each broken
// trail (edited, deleted, inserted, or a replay that disagrees) or anchor, 2 on bad
// arguments.
import { parseArgs } from 'node:util';
import { verifyAnchors } from '../server/audit/audit.anchoring.ts';
import { archiveFiles } from '../server/audit/audit.archive.ts';
import { verifyArchives, verifyDatabase, type ScanProgress, type ScanSummary } from '../server/audit/audit.scan.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { createSql } from '../server/db.ts';

const USAGE = 'usage: npm run audit:verify -- [--incident ID] [--archives DIR | --no-archives] [--expect YYYY-MM-DD=ANCHOR]';
let args: { incident?: string; archives?: string; 'no-archives'?: boolean; expect?: string };
try {
  ({ values: args } = parseArgs({ options: { incident: { type: 'string' }, archives: { type: 'string' }, 'no-archives': { type: 'boolean' }, expect: { type: 'string' } } }));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const expectMatch = args.expect === undefined ? null : /^(\d{4}-\d{2}-\d{2})=([0-9a-f]{64})$/.exec(args.expect);
if (args.expect !== undefined && !expectMatch) {
  console.error(`--expect takes DAY=ANCHOR, e.g. 2026-12-06=<64 hex digits>\n${USAGE}`);
  process.exit(2);
}

const config = loadConfigOrExit();
const sql = createSql(config);

/** A bar redrawn in place on a terminal; on a pipe, a line per tenth. */
function progress(label: string): (p: ScanProgress) => void {
  let shownTenth = -1;
  return ({ done, total }) => {
    const share = total === 0 ? 1 : done / total;
    if (process.stderr.isTTY) {
      const filled = Math.round(share * 30);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${done}/${total}${done >= total ? '\n' : ''}`);
    } else if (Math.floor(share * 10) > shownTenth) {
      shownTenth = Math.floor(share * 10);
      process.stderr.write(`${label}: ${done}/${total} (${Math.round(share * 100)}%)\n`);
    }
  };
}

function report(where: string, s: ScanSummary): void {
  const unchained = s.unchained ? `, ${s.unchained} written before the chain (not checked)` : '';
  console.log(`${where}: ${s.incidents} incident(s), ${s.events} event(s)${unchained}: ${s.broken.length === 0 ? 'all verified' : `${s.broken.length} BROKEN`}`);
  for (const r of s.broken.slice(0, 20)) console.log(`  ${r.broken!.kind.toUpperCase()}: ${r.broken!.message}`);
  if (s.broken.length > 20) console.log(`  … and ${s.broken.length - 20} more`);
}

let failed = false;
try {
  const db = await verifyDatabase(sql, { only: args.incident, onProgress: progress('database') });
  report(`database (schema ${config.DB_SCHEMA})`, db);
  failed ||= db.broken.length > 0;
  let found = db.incidents;
  if (!args['no-archives']) {
    const dir = args.archives ?? config.ARCHIVE_DIR;
    const files = await archiveFiles(dir);
    const archived = await verifyArchives(files, { only: args.incident, onProgress: progress('archives') });
    report(`archives (${files.length} file(s) in ${dir})`, archived);
    failed ||= archived.broken.length > 0;
    found += archived.incidents;
  }
  if (!args.incident) {
    const dir = args['no-archives'] ? null : (args.archives ?? config.ARCHIVE_DIR);
    const check = await verifyAnchors(sql, dir, expectMatch ? { day: expectMatch[1]!, anchor: expectMatch[2]! } : undefined);
    const latest = check.latest ? `; latest ${check.latest.day}: ${check.latest.anchor} (keep a copy elsewhere)` : '';
    console.log(`anchors: ${check.days} day(s)${latest}: ${check.problems.length === 0 ? 'all match' : `${check.problems.length} BROKEN`}`);
    for (const p of check.problems) console.log(`  ANCHOR: ${p}`);
    failed ||= check.problems.length > 0;
  }
  if (args.incident && found === 0) {
    console.log(`incident ${args.incident}: not found`);
    failed = true;
  } else if (args.incident && !failed) console.log(`incident ${args.incident}: verified`);
} catch (err) {
  console.error(`audit:verify could not finish: ${(err as Error).message}`);
  failed = true;
} finally {
  await sql.end({ timeout: 5 });
}
process.exit(failed ? 1 : 0);
