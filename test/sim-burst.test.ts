// The simulator's `--burst`: its accounting over recorded rows (the clock from the first
// attempt, an infinite wait for a report that gave up or was never offered, lost 2xx
// answers), its checks fed bursts that must fail, and its options. No server: pure
// functions over rows, counts and argv.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pct } from '../scripts/lib/stats.ts';
import { parseArgs } from '../scripts/sim/args.ts';
import { type AuditView, accountBurst, type BurstRow, burstChecks, burstLines, toFirstOffer } from '../scripts/sim/burst-account.ts';
import { judge, type ReportAudit } from '../scripts/sim/checks.ts';
import { Stats } from '../scripts/sim/stats.ts';

const row = (over: Partial<BurstRow> = {}): BurstRow => ({ severity: 'critical', firstAt: 1_000, attempts: 1, outcome: 'created', status: 201, id: 'inc-1', ...over });
const noFailures = () => ({ overloaded: 0, throttled: 0, server: 0, network: 0, retryAfterMs: [] });
const clean: AuditView = { lost: [], stillReported: [], unverified: [] };
const account = (rows: BurstRow[], offers: Record<string, number> = {}, audit: AuditView | null = clean) => accountBurst(rows, { offerAt: (id) => offers[id], audit, failures: noFailures() });
const failed = (rows: BurstRow[], offers: Record<string, number> = {}, audit: AuditView | null = clean) => burstChecks(account(rows, offers, audit)).filter((c) => !c.ok).map((c) => c.name);

const clock = suite('burst: time to first offer');

clock('the clock starts at the first attempt, not the one answered', () => {
  // First attempt at 1 s, refused 503 twice, answered on the third at 5 s, offered at 7 s.
  assert.is(toFirstOffer(row({ firstAt: 1_000, attempts: 3 }), 7_000), 6_000);
});

clock('a report that gave up, was refused, or whose incident was never offered waits for ever', () => {
  assert.is(toFirstOffer(row({ outcome: 'gaveUp', status: 503, id: null }), undefined), Number.POSITIVE_INFINITY);
  assert.is(toFirstOffer(row({ outcome: 'refused', status: 422, id: null }), undefined), Number.POSITIVE_INFINITY);
  assert.is(toFirstOffer(row({ outcome: 'sending', status: 0, id: null }), undefined), Number.POSITIVE_INFINITY);
  assert.is(toFirstOffer(row(), undefined), Number.POSITIVE_INFINITY, 'answered 2xx, never offered');
});

clock('a report linked to an incident already offered waited for nothing', () => {
  assert.is(toFirstOffer(row({ outcome: 'linked', status: 200, firstAt: 5_000 }), 2_000), 0);
});

clock('infinite waits are the slowest in the percentiles, and print as ∞', () => {
  const rows = [
    ...Array.from({ length: 8 }, (_, i) => row({ id: `inc-${i}`, firstAt: 0 })),
    row({ outcome: 'gaveUp', status: 503, id: null, attempts: 4 }),
    row({ id: 'inc-never' }),
    row({ severity: 'low', outcome: 'gaveUp', id: null }), // not critical: not in the critical figures
  ];
  const offers = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`inc-${i}`, (i + 1) * 100]));
  const a = account(rows, offers);
  assert.is(a.critical.sent, 10);
  assert.is(a.critical.gaveUp, 1);
  assert.is(a.critical.neverOffered, 1);
  assert.is(pct(a.critical.waits, 0.5), 500);
  assert.is(pct(a.critical.waits, 0.9), Number.POSITIVE_INFINITY);
  assert.is(pct(a.critical.waits, 0.99), Number.POSITIVE_INFINITY);
  const text = burstLines(a, { ratePerMin: 25_000, seconds: 20, atS: 90, km: 1.5, where: 'Downtown' }, { free: { atStart: 80, fewest: 0, atEnd: 70 }, loopDelayMs: null }).join('\n');
  assert.match(text, /every report +n=10 p50 500ms p90 ∞ p99 ∞/);
  assert.equal(a.critical.answeredWaits.length, 9, 'the one that gave up left out');
});

clock.run();

const counts = suite('burst: counts and lost');

counts('each report is counted once, by how it ended; attempts of settled reports only', () => {
  const a = account([
    row({ id: 'a', attempts: 1 }),
    row({ id: 'a', outcome: 'linked', status: 200, attempts: 3 }),
    row({ id: 'b', outcome: 'linked', status: 200, attempts: 2 }),
    row({ outcome: 'refused', status: 400, id: null }),
    row({ outcome: 'gaveUp', status: 503, id: null, attempts: 5 }),
    row({ outcome: 'gaveUp', status: 0, id: null, attempts: 2 }),
    row({ outcome: 'sending', status: 0, id: null, attempts: 2 }),
  ]);
  assert.equal([a.sent, a.created, a.linked, a.refused, a.gaveUp, a.unsettled], [7, 1, 2, 1, 2, 1]);
  assert.equal([a.gaveUpRefused, a.gaveUpUnanswered], [1, 1], 'by how the last attempt ended');
  assert.is(a.answeredAfterRetry, 2);
  assert.equal(a.attempts, [1, 3, 2, 1, 5, 2]);
  assert.equal(a.incidents, ['a', 'b']);
});

counts('a 2xx answer whose incident is gone, still `reported`, or unread is lost', () => {
  const rows = [row({ id: 'a' }), row({ id: 'a', outcome: 'linked', status: 200 }), row({ id: 'b' }), row({ id: 'c' })];
  const gone = account(rows, {}, { ...clean, lost: ['a', 'not-ours'] });
  assert.is(gone.lost.answers, 2, 'both answers naming it');
  assert.equal(gone.lost.notFound, ['a'], 'ids outside the burst are not its loss');
  assert.equal(failed(rows, {}, { ...clean, lost: ['a'] }), ['burst: incidents lost = 0']);
  assert.equal(failed(rows, {}, { ...clean, stillReported: ['b'] }), ['burst: incidents lost = 0']);
  assert.equal(failed(rows, {}, { ...clean, unverified: ['c'] }), ['burst: incidents lost = 0']);
  const noAudit = account(rows, {}, null);
  assert.equal(noAudit.lost.unread, ['a', 'b', 'c'], 'without an audit nothing is verified');
  assert.equal(failed(rows, {}, null), ['burst: incidents lost = 0']);
});

counts.run();

const checks = suite('burst: checks');

/** A healthy run like sim-checks.test.ts's, small. */
function run(): { stats: Stats; audit: ReportAudit } {
  const stats = new Stats();
  Object.assign(stats.reports, { sent: 100, created: 100 });
  Object.assign(stats.offers, { received: 150, accepted: 90 });
  Object.assign(stats.progress, { en_route: 88, on_scene: 70, resolved: 65 });
  Object.assign(stats.scans, { runs: 3 });
  stats.noteReported('inc-0', { t0: 0, severity: 'high', kind: 'fire', hotspot: null });
  stats.mark(stats.assigned, 'inc-0', 10);
  const audit: ReportAudit = { checked: 100, total: 100, lost: [], stillReported: [], unverified: [], finalStates: new Map([['resolved', 65]]), heldByVanished: 0, vanishedChecked: 0 };
  return { stats, audit };
}
const verdict = (burst: ReturnType<typeof account> | null) => {
  const r = run();
  const list = judge({ stats: r.stats, audit: r.audit, auditError: null, scan: { incidents: 5, truncated: false, violations: [] }, scanError: null, overfilled: 0, burst });
  return { names: list.map((c) => c.name), failed: list.filter((c) => !c.ok).map((c) => c.name) };
};
const healthy = () => [row({ id: 'a' }), row({ id: 'b', severity: 'medium', attempts: 3 }), ...Array.from({ length: 20 }, () => row({ outcome: 'gaveUp', status: 503, id: null, attempts: 2 }))];

checks('a burst where most gave up but every 2xx answer was dispatched passes', () => {
  const v = verdict(account(healthy(), { a: 1_500 }));
  assert.equal(v.failed, []);
  for (const name of ['burst: reports answered 2xx', 'burst: incidents lost = 0', 'burst: valid reports never refused']) assert.ok(v.names.includes(name), name);
});

checks('without --burst the burst checks are not part of the verdict', () => {
  assert.not.ok(verdict(null).names.some((n) => n.startsWith('burst:')));
});

checks('a burst refused whole fails, though nothing answered was lost', () => {
  const rows = Array.from({ length: 10 }, () => row({ outcome: 'gaveUp', status: 503, id: null }));
  assert.equal(failed(rows), ['burst: reports answered 2xx', 'burst: incidents lost = 0']);
  assert.equal(failed([]), ['burst: reports answered 2xx', 'burst: incidents lost = 0'], 'the run stopped before the burst');
});

checks('a valid burst report refused (4xx other than 429) fails', () => {
  assert.equal(failed([...healthy(), row({ outcome: 'refused', status: 422, id: null })]), ['burst: valid reports never refused']);
});

checks.run();

const options = suite('burst: options');

options('--burst: in the middle of the run, 20 s, 50× the rate, a 1.5 km square at the first hot spot', () => {
  const o = parseArgs(['--rate', '500', '--minutes', '3', '--burst']);
  assert.equal(o.burst, { atS: 90, seconds: 20, ratePerMin: 25_000, km: 1.5, spot: null });
  assert.is(o.ratePerMin, 500, 'the run\'s own rate is unchanged');
  assert.is(parseArgs(['--minutes', '3']).burst, null);
});

options('--burst-at in % or seconds; every --burst-* option implies --burst', () => {
  assert.is(parseArgs(['--minutes', '2', '--burst-at', '25%']).burst?.atS, 30);
  assert.is(parseArgs(['--minutes', '2', '--burst-at', '40s']).burst?.atS, 40);
  assert.is(parseArgs(['--minutes', '2', '--burst-at=40']).burst?.atS, 40);
  const o = parseArgs(['--minutes', '2', '--burst-rate', '100/s', '--burst-seconds', '5', '--burst-km', '1', '--burst-spot', '40.75,-73.99']);
  assert.equal(o.burst, { atS: 60, seconds: 5, ratePerMin: 6_000, km: 1, spot: { lat: 40.75, lng: -73.99 } });
});

options('a burst that does not fit in the run, or a value given to --burst, is a usage error', () => {
  assert.throws(() => parseArgs(['--minutes', '1', '--burst-at', '50s']), /must end before the run does/);
  assert.throws(() => parseArgs(['--minutes', '1', '--burst-at', '90%']), /must end before the run does/);
  assert.throws(() => parseArgs(['--burst=yes']), /--burst takes no value/);
  assert.throws(() => parseArgs(['--burst-at', 'soon']), /--burst-at/);
  assert.throws(() => parseArgs(['--burst-km', '20']), /--burst-km/, 'larger than the city');
});

options.run();
