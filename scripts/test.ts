// Runs every test/**/*.test.ts with uvu in one process, then prints the plain
// "N passed, N failed" line. `npx tsx scripts/test.ts <regex>` runs the files whose
// path matches; `npx tsx scripts/test.ts <file>` runs that one file (fixtures too).
//
// uvu is patched (scripts/patches/uvu+0.5.6.patch) so a throwing hook is reported as a
// failure naming the hook and the test; counting "Total" against "Passed" still guards
// against any suite that reports fewer passes than it has tests.
//
// The sentinel: before the suites, a few unrelated keys are written to the configured
// Redis; after them, they must all still be there, unchanged. A test that flushes or
// restarts the shared Redis (instead of its own, test/helpers/redis-server.ts) fails
// the run.
import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';
import { Sentinel } from './test-sentinel.ts';

const arg = process.argv[2];
const single = arg && existsSync(arg) && statSync(arg).isFile() ? resolve(arg) : null;
const filter = arg && !single ? new RegExp(arg) : /\.test\.ts$/;

const sentinel = new Sentinel();
const planted = await sentinel.plant();

const out: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

const ctx = await parse('test', /\.test\.ts$/, { cwd: process.cwd() });
const suites = single
  ? [{ name: relative(resolve('test'), single), file: single }]
  : ctx.suites.filter((s: { file: string }) => filter.test(s.file));
await run(suites, { bail: false });
process.stdout.write = write;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const text = out.join('').replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0);
let passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
let failed = total - passed; // uvu's Total leaves skipped tests out

// The sentinel counts as one more check.
const problem = planted ?? await sentinel.verifyAndRemove();
if (problem) {
  failed += 1;
  console.log(`\n  FAIL sentinel: the configured Redis (${sentinel.where}) was disturbed by the run: ${problem}`);
} else {
  passed += 1;
  console.log(`\n  sentinel: ${sentinel.count} keys on ${sentinel.where} untouched by the run`);
}

console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
const code = failed > 0 || total === 0 ? 1 : (process.exitCode ?? 0);
// Every suite closes what it opened; a handle left behind must not hang CI.
setTimeout(() => process.exit(code), 200).unref();
process.exitCode = code;
