// The verdicts of the tools that judge whole runs, fed runs that must fail: the city
// simulator's final checks (scripts/sim/checks.ts) and the fault-trial table
// (scripts/fault-rows.ts). No server: these are pure functions over counts and output.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXPECTED_ROWS, parseRound, SUITE_ROW, tally } from '../scripts/fault-rows.ts';
import { judge, UNANSWERED_TOLERANCE, type ReportAudit, type ScanResult } from '../scripts/sim/checks.ts';
import { Stats } from '../scripts/sim/stats.ts';

/** A healthy run: 1000 reports answered, offers accepted, heroes moving, scans complete. */
function healthy(): { stats: Stats; audit: ReportAudit; scan: ScanResult } {
  const stats = new Stats();
  Object.assign(stats.reports, { sent: 1000, created: 990, replayed: 10 });
  Object.assign(stats.offers, { received: 1500, accepted: 900, declined: 300, ignored: 300 });
  Object.assign(stats.progress, { en_route: 880, on_scene: 700, resolved: 650 });
  Object.assign(stats.scans, { runs: 8 });
  for (let i = 0; i < 900; i++) {
    stats.noteReported(`inc-${i}`, { t0: 0, severity: 'high', kind: 'fire', hotspot: null });
    stats.mark(stats.assigned, `inc-${i}`, 10);
  }
  const audit: ReportAudit = { checked: 1000, total: 1000, lost: [], stillReported: [], unverified: [], finalStates: new Map([['resolved', 650]]), heldByVanished: 0, vanishedChecked: 0 };
  return { stats, audit, scan: { incidents: 120, truncated: false, violations: [] } };
}

const verdict = (run: ReturnType<typeof healthy>, over: Partial<Parameters<typeof judge>[0]> = {}) => {
  const checks = judge({ stats: run.stats, audit: run.audit, auditError: null, scan: run.scan, scanError: null, overfilled: 0, ...over });
  return { ok: checks.every((c) => c.ok), failed: checks.filter((c) => !c.ok).map((c) => c.name), checks };
};

const sim = suite('simulator checks');

sim('a healthy run passes', () => {
  const v = verdict(healthy());
  assert.ok(v.ok, JSON.stringify(v.checks.filter((c) => !c.ok)));
});

sim('a server answering every report with 5xx fails, though nothing answered was lost', () => {
  const run = healthy();
  Object.assign(run.stats.reports, { sent: 1000, created: 0, replayed: 0, unanswered: 1000, serverErrors: 10_000, retries: 9_000 });
  run.audit = { ...run.audit, checked: 0, total: 0 };
  const v = verdict(run);
  assert.not.ok(v.ok);
  assert.ok(v.failed.includes('every report answered'), v.failed.join(', '));
  assert.ok(v.failed.includes('incidents lost = 0'), 'an audit of nothing verifies nothing');
});

sim('unanswered reports beyond the tolerance fail; 503s retried and then answered do not', () => {
  const allowed = Math.floor(1000 * UNANSWERED_TOLERANCE);
  const within = healthy();
  Object.assign(within.stats.reports, { created: 1000 - allowed, replayed: 0, unanswered: allowed, overloaded: 400, serverErrors: 400, answeredAfterRetry: 350 });
  assert.ok(verdict(within).ok, JSON.stringify(verdict(within).checks.filter((c) => !c.ok)));
  const beyond = healthy();
  Object.assign(beyond.stats.reports, { created: 1000 - allowed - 1, replayed: 0, unanswered: allowed + 1 });
  assert.equal(verdict(beyond).failed, ['every report answered']);
  const stuck = healthy(); // still in flight when the run ended: not answered either
  Object.assign(stuck.stats.reports, { created: 980, replayed: 0, inflight: 20 });
  assert.equal(verdict(stuck).failed, ['every report answered']);
});

sim('a run with no assignment at all fails', () => {
  const run = healthy();
  run.stats.offers.accepted = 0;
  run.stats.assigned.seen.clear();
  assert.ok(verdict(run).failed.includes('incidents were assigned'));
});

sim('a run where nothing progressed fails', () => {
  const run = healthy();
  Object.assign(run.stats.offers, { received: 0, accepted: 0 });
  Object.assign(run.stats.progress, { en_route: 0, on_scene: 0, resolved: 0 });
  run.stats.assigned.seen.clear();
  const v = verdict(run);
  assert.ok(v.failed.includes('liveness: offers went out and heroes made progress'), v.failed.join(', '));
});

sim('a truncated or failed scan fails', () => {
  const truncated = healthy();
  truncated.scan = { ...truncated.scan, truncated: true, incidents: 1000 };
  assert.equal(verdict(truncated).failed, ['every invariant scan complete']);
  const duringRun = healthy();
  duringRun.stats.scans.truncated = 1;
  assert.equal(verdict(duringRun).failed, ['every invariant scan complete']);
  const failedDuring = healthy();
  failedDuring.stats.scans.failed = 1;
  assert.equal(verdict(failedDuring).failed, ['every invariant scan complete']);
  const finalFailed = verdict(healthy(), { scan: null, scanError: 'HTTP 500' });
  assert.ok(finalFailed.failed.includes('one active assignment per slot and per hero') && finalFailed.failed.includes('every invariant scan complete'));
});

sim.run();

const rows = suite('fault-trial rows');

const ok = [
  'faults: redis-flush 3 trials, 0 broken (1.0 s; x)',
  'crash: reports-stream 3 trials, 285 reports, 0 lost (12 unanswered at the kill, retried: 2 had committed, 10 created), 0 broken (17532 ms)',
  'crash: kill-after-accept-commit 2 trials, 0 broken (assignment kept; 6016 ms)',
  '12 passed, 0 failed',
].join('\n');

rows('a clean round counts every trial and nothing broken', () => {
  const t = tally([parseRound(ok)]);
  assert.equal(t.get('sigkill-during-reports'), { trials: 3, broken: 0 });
  assert.equal(t.get('sigkill-after-accept-commit'), { trials: 2, broken: 0 });
  assert.equal(t.get('redis-flush'), { trials: 3, broken: 0 });
  assert.equal(t.get(SUITE_ROW), { trials: 12, broken: 0 });
});

rows('a broken trial shows in its row, in every row', () => {
  const round = ok
    .replace('kill-after-accept-commit 2 trials, 0 broken', 'kill-after-accept-commit 2 trials, 1 broken')
    .replace('285 reports, 0 lost (12 unanswered at the kill, retried: 2 had committed, 10 created), 0 broken', '285 reports, 0 lost (1 unanswered), 1 broken')
    .replace('redis-flush 3 trials, 0 broken', 'redis-flush 3 trials, 2 broken')
    .replace('12 passed, 0 failed', '9 passed, 3 failed');
  const t = tally([parseRound(round)]);
  assert.equal(t.get('sigkill-after-accept-commit'), { trials: 2, broken: 1 });
  assert.equal(t.get('sigkill-during-reports'), { trials: 3, broken: 1 });
  assert.equal(t.get('redis-flush'), { trials: 3, broken: 2 });
  assert.equal(t.get(SUITE_ROW), { trials: 12, broken: 3 });
});

rows('a row missing from a round (its test threw first, or the round crashed) counts as broken', () => {
  const withoutCrash = ok.split('\n').filter((l) => !l.startsWith('crash:')).join('\n');
  const t = tally([parseRound(ok), parseRound(withoutCrash), parseRound('')]);
  for (const name of EXPECTED_ROWS) assert.ok(t.get(name)!.broken >= 2, `${name}: ${JSON.stringify(t.get(name))}`);
  assert.equal(t.get('redis-flush'), { trials: 3 + 3 + 1, broken: 1 }, 'a faults row seen in one round is due in every round');
  assert.equal(t.get(SUITE_ROW), { trials: 12 + 12 + 1, broken: 1 });
});

rows.run();
