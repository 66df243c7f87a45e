// Runs every test/**/*.test.ts with uvu in one process, then prints the plain
// "N passed, N failed" line. uvu swallows an error thrown by a `before` hook and
// would report such a suite as passing; counting "Total" against "Passed" catches it.
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const filter = process.argv[2] ? new RegExp(process.argv[2]) : /\.test\.ts$/;
const out: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

const ctx = await parse('test', /\.test\.ts$/, { cwd: process.cwd() });
ctx.suites = ctx.suites.filter((s: { file: string }) => filter.test(s.file));
await run(ctx.suites, { bail: false });
process.stdout.write = write;

// eslint-disable-next-line no-control-regex
const text = out.join('').replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
const failed = total - passed; // uvu's Total leaves skipped tests out
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
const code = failed > 0 || total === 0 ? 1 : (process.exitCode ?? 0);
// Every suite closes what it opened; a handle left behind must not hang CI.
setTimeout(() => process.exit(code), 200).unref();
process.exitCode = code;
