// Runs `npm run audit:verify`'s script against a test server's schema as a child
// process, as an operator would, bounded in time.
import { spawn } from 'node:child_process';
import type { TestServer } from './server.ts';

export interface VerifyRun { code: number | null; out: string }

export function auditVerify(server: TestServer, args: string[] = [], env: Record<string, string> = {}, ms = 60_000): Promise<VerifyRun> {
  const { DATABASE_URL, DB_SCHEMA, ARCHIVE_DIR } = server.app.config;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', ...args], {
      env: { ...process.env, DATABASE_URL, DB_SCHEMA, ARCHIVE_DIR, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`audit:verify took over ${ms} ms:\n${out}`)); }, ms);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}
