// Validates XML against an XML Schema with libxml2's xmllint (Debian libxml2-utils;
// .ci/run installs it when missing): the CAP tests check every document the server
// serves against the official OASIS CAP 1.2 schema, with a tool that is not ours.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CAP_XSD = fileURLToPath(new URL('../../server/standards/schemas/cap-1.2.xsd', import.meta.url));
const XMLLINT_DEADLINE_MS = 10_000;

export interface Validation { ok: boolean; output: string }

/**
 * `xmllint --noout --schema <xsd> <file>` on the text; ok only when xmllint says it
 * validates. With `xsd` null: only whether the text is well-formed XML.
 */
export function validateXml(xml: string, xsd: string | null = CAP_XSD): Validation {
  const dir = mkdtempSync(join(tmpdir(), 'xmllint-'));
  try {
    const file = join(dir, 'document.xml');
    writeFileSync(file, xml);
    const args = xsd === null ? ['--noout', file] : ['--noout', '--schema', xsd, file];
    const run = spawnSync('xmllint', args, { encoding: 'utf8', timeout: XMLLINT_DEADLINE_MS });
    if (run.error) throw new Error(`xmllint could not run (install libxml2-utils): ${run.error.message}`);
    const output = `${run.stdout}${run.stderr}`.trim();
    return { ok: run.status === 0 && (xsd === null || /validates$/m.test(output)), output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
