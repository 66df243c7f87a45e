// The test runner never swallows a failure: it runs test/fixtures/hook-failures.ts
// (whose hooks throw) in a child process and checks that each hook failure is reported
// with the hook's name, the test it ran around and its message, that the other tests
// still ran, and that the run fails.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('harness');
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function runFixture(file: string, ms = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts', file], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the runner did not finish within ${ms} ms:\n${out}`)); }, ms);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out: out.replace(/\x1b\[[0-9;]*m/g, '') }); });
  });
}

test('a throwing hook fails the run and names the hook, the test and the message', async () => {
  const { code, out } = await runFixture('test/fixtures/hook-failures.ts');
  assert.is.not(code, 0, `the run passed:\n${out}`);
  const reported = (title: string, message: string) => {
    const at = out.indexOf(`"${title}"`);
    assert.ok(at >= 0, `no failure titled "${title}" in:\n${out}`);
    assert.ok(out.slice(at, at + 300).includes(message), `"${title}" does not carry "${message}":\n${out}`);
  };
  reported('after.each hook, after test: breaks the invariant', 'I9 broken: demo');
  reported('fails itself', 'the test assertion');
  reported('after.each hook, after test: fails itself', 'I5 broken: after a failed test');
  reported("before hook (none of the suite's 2 tests ran)", 'before hook broke: no server');
  reported('after hook (after every test ran)', 'after hook broke: could not stop');
  // The test after the broken after.each still ran and passed: 2 of 7 checks pass
  // (that one and the test before the failing `after`).
  assert.match(out, /after\.each throws\s+✘ •\s+\(1 \/ 2\)/, 'the suite stopped at the broken after.each');
  assert.match(out, /Total:\s+7\b/);
  assert.match(out, /Passed:\s+2\b/);
  const [, failed] = /\d+ passed, (\d+) failed/.exec(out) ?? [];
  assert.ok(Number(failed) >= 5, `final line counts ${failed} failures:\n${out}`);
});

test.run();
