// `npm run audit:verify [-- --incident ID] [--archives DIR | --no-archives]`: checks
// every incident's hash chain and replays its trail through the machine, in Postgres
// and in the retention archives (issue 15). Prints progress on long runs and a
// summary; exits 1 naming the first broken link of each broken trail (edited, deleted,
// inserted, or a replay that disagrees), 2 on bad arguments.
import { parseArgs } from 'node:util';
import { archiveFiles } from '../server/audit/audit.archive.ts';
import { verifyArchives, verifyDatabase, type ScanProgress, type ScanSummary } from '../server/audit/audit.scan.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { createSql } from '../server/db.ts';

const USAGE = 'usage: npm run audit:verify -- [--incident ID] [--archives DIR | --no-archives]';
let args: { incident?: string; archives?: string; 'no-archives'?: boolean };
try {
  ({ values: args } = parseArgs({ options: { incident: { type: 'string' }, archives: { type: 'string' }, 'no-archives': { type: 'boolean' } } }));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
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
