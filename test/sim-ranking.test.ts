// The simulator's side of issue 16: heroes with personalities (a documented mix, the same
// for a seed), the ranking section's figures on a small constructed input, the options
// and the comparison's bookkeeping (pure), and one short `--ranking distance` run against
// a server the simulator starts itself, whose schema `--keep` leaves for `npm run train`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dropSchemas, pg } from '../scripts/lib/lifecycle.ts';
import { parseArgs } from '../scripts/sim/args.ts';
import { City } from '../scripts/sim/city.ts';
import { Civilians } from '../scripts/sim/civilians.ts';
import { runArgs, withoutOption } from '../scripts/sim/compare.ts';
import { fingerprint, sameCity } from '../scripts/sim/fingerprint.ts';
import { Hero } from '../scripts/sim/heroes.ts';
import { answerOf, assignPersonalities, heroRng, PERSONALITIES, PERSONALITY_KINDS, quotas } from '../scripts/sim/personality.ts';
import { compareLines, criticalVerdict, type RunSummary } from '../scripts/sim/ranking-report.ts';
import { type ArrivalRecord, type OfferRecord, rankingSection, type ReportView } from '../scripts/sim/ranking-stats.ts';
import { Rng, seedFrom } from '../scripts/sim/rng.ts';
import { Stats } from '../scripts/sim/stats.ts';
import { sleep } from '../scripts/sim/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const people = suite('sim personalities');

people('the documented mix, exact for any fleet: 50% reliable, 20% picky, 15% slow to answer, 10% slow drivers, 5% ghosts', () => {
  assert.equal(quotas(300), { reliable: 150, picky: 60, slow_answer: 45, slow_driver: 30, ghost: 15 });
  assert.equal(quotas(20), { reliable: 10, picky: 4, slow_answer: 3, slow_driver: 2, ghost: 1 });
  for (const n of [0, 1, 7, 33, 999]) {
    const q = quotas(n);
    assert.is(Object.values(q).reduce((a, b) => a + b, 0), n, `${n} heroes`);
    for (const k of PERSONALITY_KINDS) assert.ok(Math.abs(q[k] - PERSONALITIES[k].share * n) < 1, `${n}: ${k} ${q[k]}`);
  }
  const fleet = assignPersonalities(300, 'seven');
  for (const k of PERSONALITY_KINDS) assert.is(fleet.filter((p) => p.kind === k).length, quotas(300)[k], k);
  assert.equal([PERSONALITIES.slow_driver.speed, PERSONALITIES.reliable.speed], [0.6, 1], 'slow drivers move at 0.6× the physics ETA\'s speed');
});

people('the same seed gives the same heroes the same personalities and the same run-time stream; another seed another order', () => {
  const kinds = (seed: string) => assignPersonalities(300, seed).map((p) => p.kind);
  assert.equal(kinds('seven'), kinds('seven'));
  assert.not.equal(kinds('seven'), kinds('eight'));
  const draws = (i: number) => { const r = heroRng('seven', i); return [r.next(), r.next(), r.next()]; };
  assert.equal(draws(4), draws(4));
  assert.not.equal(draws(4), draws(5), 'each hero has a stream of its own');
});

people('answers follow each personality: how often, how, and after how long', () => {
  const tally = (kind: keyof typeof PERSONALITIES) => {
    const rng = heroRng('answers', 0);
    const n = { accept: 0, decline: 0, ignore: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 4_000; i++) {
      const a = answerOf(PERSONALITIES[kind], rng);
      n[a.choice] += 1;
      delays.push(a.delayMs);
    }
    return { share: { accept: n.accept / 4_000, decline: n.decline / 4_000, ignore: n.ignore / 4_000 }, min: Math.min(...delays), max: Math.max(...delays) };
  };
  const reliable = tally('reliable');
  assert.ok(Math.abs(reliable.share.accept - 0.9) < 0.02, `reliable accepts ${reliable.share.accept}`);
  assert.ok(reliable.min >= 2_000 && reliable.max <= 4_000, `reliable answers in ${reliable.min}–${reliable.max} ms`);
  const picky = tally('picky');
  assert.ok(Math.abs(picky.share.accept - 0.3) < 0.03, `picky accepts ${picky.share.accept}`);
  assert.ok(Math.abs(picky.share.decline - 0.56) < 0.03, `picky declines ${picky.share.decline}`);
  const slow = tally('slow_answer');
  assert.ok(Math.abs(slow.share.accept - 0.7) < 0.03, `slow answerers accept ${slow.share.accept}`);
  assert.ok(slow.min >= 8_000 && slow.max <= 14_000 && slow.max > 13_000, `slow answerers answer in ${slow.min}–${slow.max} ms`);
  assert.equal(tally('ghost').share, { accept: 0, decline: 0, ignore: 1 }, 'ghosts never answer');
});

people('a slow driver really covers 0.6× the ground of a reliable hero in the same time (the physics ETA assumes 1×)', () => {
  const city = new City({ lat: 40.75, lng: -73.98 }, 12, new Rng(seedFrom('drive')));
  const deps = { url: 'http://127.0.0.1:9', city, rng: new Rng(1), stats: new Stats(), opts: parseArgs([]) };
  const drive = (kind: 'reliable' | 'slow_driver', mode: 'ground' | 'air') => {
    const hero = new Hero(`h-${kind}`, kind, mode, [], 'token', deps, { index: 0, personality: PERSONALITIES[kind], rng: heroRng('drive', 0) });
    hero.phase = 'en_route';
    hero.mover.pos = { x: 0, y: 0 };
    hero.mover.waypoints = [{ x: 100, y: 0 }];
    hero.tick(0.01); // 36 s of simulated time, far from the scene
    return hero.mover.pos.x;
  };
  for (const mode of ['ground', 'air'] as const) {
    const ratio = drive('slow_driver', mode) / drive('reliable', mode);
    assert.ok(Math.abs(ratio - 0.6) < 1e-9, `${mode}: ${ratio}`);
  }
});

/**
 * The civilians' schedule (one fingerprint per report) when every answer takes `delayMs`:
 * they report at 6,000/min to a port nobody listens on, for 400 ms, from their own stream.
 */
async function schedule(delayMs: number): Promise<string[]> {
  const stats = new Stats();
  const city = new City({ lat: 40.75, lng: -73.98 }, 4, new Rng(seedFrom('sched')));
  const civilians = new Civilians({
    url: 'http://127.0.0.1:9', ratePerMin: 6_000, city, stats, runId: 'sched', teams: 0.2,
    rng: new Rng(seedFrom('sched/civilians')), retries: new Rng(seedFrom('sched/civilians/retries')),
    signCivilian: async () => { await sleep(delayMs); return 'not-a-token'; },
  });
  civilians.start();
  await sleep(400);
  civilians.stop(0);
  await Promise.race([civilians.drain(), sleep(10_000)]);
  return stats.schedule;
}

people('with a stream of their own, civilians report the same emergencies in the same order however long answers take', async () => {
  const [quick, slow] = await Promise.all([schedule(0), schedule(30)]);
  const n = Math.min(quick.length, slow.length);
  assert.ok(n >= 10, `${quick.length} and ${slow.length} reports drawn`);
  assert.equal(slow.slice(0, n), quick.slice(0, n));
});

people('--ranking and --compare turn personalities on; plain runs keep them off; the options refuse what cannot work', () => {
  assert.is(parseArgs([]).personalities, false);
  assert.is(parseArgs([]).ranking, null);
  const r = parseArgs(['--ranking', 'learned', '--model', 'm.json', '--keep', '--warmup', '2']);
  assert.equal([r.ranking, r.personalities, r.model, r.keep, r.warmupMin], ['learned', true, 'm.json', true, 2]);
  assert.is(parseArgs(['--compare']).personalities, true);
  assert.is(parseArgs(['--ranking', 'distance', '--personalities=off']).personalities, false);
  assert.is(parseArgs(['--url', 'http://x:1', '--personalities']).personalities, true);
  assert.throws(() => parseArgs(['--ranking', 'random']), /--ranking: expected learned or distance/);
  assert.throws(() => parseArgs(['--ranking', 'learned', '--url', 'http://x:1']), /starts a server of its own/);
  assert.throws(() => parseArgs(['--compare', '--ranking', 'learned']), /--compare runs both/);
  assert.throws(() => parseArgs(['--keep']), /--keep is for the server the simulator starts/);
  assert.throws(() => parseArgs(['--ranking', 'distance', '--model', 'm.json']), /--model is for --ranking learned/);
  assert.throws(() => parseArgs(['--personalities=maybe']), /expected on or off/);
});

people('--compare runs both rankings on one seed, with the model for the learned run only', () => {
  const argv = ['--compare', '--heroes', '50', '--seed', 'old', '--model=m.json', '--json', 'x.json'];
  assert.equal(withoutOption(argv, 'seed', true), ['--compare', '--heroes', '50', '--model=m.json', '--json', 'x.json']);
  assert.equal(runArgs(argv, { seed: 'old' }, 'distance', 'd.json'), ['--heroes', '50', '--seed', 'old', '--ranking', 'distance', '--json', 'd.json']);
  assert.equal(runArgs(argv, { seed: 'old' }, 'learned', 'l.json'), ['--heroes', '50', '--model=m.json', '--seed', 'old', '--ranking', 'learned', '--json', 'l.json']);
  const drawn = parseArgs(['--compare']).seed; // no --seed: one is drawn, and both runs get it
  assert.ok(runArgs(['--compare'], { seed: drawn }, 'learned', 'l.json').join(' ').includes(`--seed ${drawn}`));
});

people.run();

/** A small run: three critical incidents, one high, one in the warm-up, one not ours. */
function constructed(): { reports: Map<string, ReportView>; offers: OfferRecord[]; arrivals: ArrivalRecord[] } {
  const reports = new Map<string, ReportView>([
    ['c1', { t0: 1_000, severity: 'critical' }],
    ['c2', { t0: 2_000, severity: 'critical' }],
    ['c3', { t0: 3_000, severity: 'critical' }], // never accepted
    ['h1', { t0: 1_000, severity: 'high' }],
    ['w1', { t0: 500, severity: 'critical' }], // in the warm-up
  ]);
  const offer = (id: string, incidentId: string, o: Partial<OfferRecord>): OfferRecord => ({
    offerId: id, incidentId, heroId: `h-${id}`, personality: 'reliable', mode: 'ground', distanceKm: 1, at: 0, answer: null, outcome: null, acceptedAt: null, ...o,
  });
  const offers = [
    offer('o1', 'c1', { answer: 'accept', outcome: 'accepted', acceptedAt: 4_000 }),
    offer('o2', 'c1', { personality: 'ghost', answer: 'ignore', outcome: 'expired' }),
    offer('o3', 'c1', { personality: 'picky', outcome: 'taken' }),
    offer('o4', 'c2', { personality: 'slow_answer', answer: 'accept', outcome: 'expired' }), // answered too late
    offer('o5', 'c2', { answer: 'accept', outcome: 'accepted', acceptedAt: 22_000, mode: 'air' }),
    offer('o6', 'c3', { personality: 'picky', answer: 'decline', outcome: 'declined' }),
    offer('o7', 'h1', { answer: 'accept', outcome: 'accepted', acceptedAt: 5_000 }),
    offer('o8', 'w1', { answer: 'accept', outcome: 'accepted', acceptedAt: 600 }),
    offer('o9', 'burst-1', { answer: 'accept', outcome: 'accepted', acceptedAt: 1 }),
  ];
  const arrival = (offerId: string, incidentId: string, mode: 'ground' | 'air', physicsEtaS: number, actualS: number): ArrivalRecord => ({
    offerId, incidentId, heroId: `h-${offerId}`, personality: mode === 'air' ? 'reliable' : 'slow_driver', mode, assignedAt: 10_000, arrivedAt: 10_000 + actualS * 1000, physicsEtaS,
  });
  const arrivals = [arrival('o1', 'c1', 'ground', 100, 130), arrival('o5', 'c2', 'air', 60, 50), arrival('o8', 'w1', 'ground', 10, 1_000)];
  return { reports, offers, arrivals };
}

const figures = suite('sim ranking section');

figures('time to first accept by severity, never accepted apart; the warm-up and incidents not ours left out', () => {
  const s = rankingSection({ ...constructed(), from: 1_000 });
  assert.is(s.incidents, 4);
  assert.equal(s.toAccept.critical, { incidents: 3, accepted: 2, never: 1, p50: 3_000, p95: 20_000, max: 20_000 });
  assert.equal(s.toAccept.high, { incidents: 1, accepted: 1, never: 0, p50: 4_000, p95: 4_000, max: 4_000 });
  assert.equal(s.toAccept.low, { incidents: 0, accepted: 0, never: 0, p50: null, p95: null, max: null });
  const all = rankingSection({ ...constructed(), from: 0 });
  assert.is(all.toAccept.critical.incidents, 4, 'without a warm-up every incident counts');
  assert.equal([all.toAccept.critical.accepted, all.toAccept.critical.p50], [3, 3_000], 'w1 (100 ms) joins c1 (3 s) and c2 (20 s)');
});

figures('time to the first hero on the scene by severity, never reached apart; the warm-up left out', () => {
  const s = rankingSection({ ...constructed(), from: 1_000 });
  // c1 reported at 1 s, reached at 140 s; c2 at 2 s, reached at 60 s; c3 and h1 never reached.
  assert.equal(s.toArrival.critical, { incidents: 3, accepted: 2, never: 1, p50: 58_000, p95: 139_000, max: 139_000 });
  assert.equal(s.toArrival.high, { incidents: 1, accepted: 0, never: 1, p50: null, p95: null, max: null });
  const { arrivals, ...rest } = constructed();
  const twice = rankingSection({ ...rest, arrivals: [...arrivals, { ...arrivals[0]!, offerId: 'o1b', arrivedAt: 30_000 }], from: 1_000 });
  assert.equal(twice.toArrival.critical.p95, 58_000, 'the first of two heroes on the scene counts: c1 now at 29 s');
  assert.equal(twice.toArrival.critical.p50, 29_000);
});

figures('critical incidents accepted within N s, over every critical incident', () => {
  const s = rankingSection({ ...constructed(), from: 1_000, withinS: [3, 5, 20, 30] });
  assert.equal(s.criticalWithin.map((c) => [c.s, c.within, c.of]), [[3, 1, 3], [5, 1, 3], [20, 2, 3], [30, 2, 3]], '3 s exactly counts as within');
  assert.is(s.criticalWithin[0]!.share, 1 / 3);
});

figures('offers per assignment, and offers by how they ended: expired unanswered or answered too late', () => {
  const s = rankingSection({ ...constructed(), from: 1_000 });
  assert.equal(s.offersPerAssignment, { all: 2, offers: 6, accepts: 3, bySeverity: { critical: 2.5, high: 1, medium: null, low: null } });
  assert.equal(s.offers, { total: 7, accepted: 3, declined: 1, expired: 2, expiredUnanswered: 1, expiredLate: 1, taken: 1, withdrawn: 0, other: 0, open: 0 });
  assert.is(s.byPersonality.ghost?.expiredUnanswered, 1);
  assert.is(s.byPersonality.slow_answer?.expiredLate, 1);
  assert.equal([s.byPersonality.picky?.total, s.byPersonality.picky?.declined, s.byPersonality.picky?.taken], [2, 1, 1]);
});

figures('ETA error: actual accept → on scene against the physics ETA, and against the learned one where there is one', () => {
  const s = rankingSection({ ...constructed(), from: 1_000, learnedEtaS: new Map([['o1', 125]]) });
  const p = s.eta.physics!;
  assert.equal([p.n, p.maeS, p.lateS, p.p50AbsS, p.p95AbsS], [2, 20, 10, 10, 30]);
  assert.ok(Math.abs(p.ratio - 50 / 60) < 1e-9, 'median actual/ETA (nearest rank)');
  assert.is(p.byMode.ground?.ratio, 1.3);
  assert.equal([p.byPersonality.slow_driver?.n, p.byPersonality.slow_driver?.maeS], [1, 30]);
  assert.equal([s.eta.learned?.n, s.eta.learned?.maeS], [1, 5]);
  assert.is(rankingSection({ ...constructed(), from: 1_000 }).eta.learned, null, 'no learned ETA: none reported');
});

figures('the comparison: learned beats distance on critical incidents only when it is no worse anywhere there', () => {
  const base = rankingSection({ ...constructed(), from: 1_000 });
  const faster = structuredClone(base);
  faster.toAccept.critical = { ...faster.toAccept.critical, p50: 2_000, p95: 9_000 };
  assert.ok(criticalVerdict(base, faster).better);
  assert.not.ok(criticalVerdict(faster, base).better);
  const moreLeft = structuredClone(faster);
  moreLeft.toAccept.critical.never = 2;
  assert.not.ok(criticalVerdict(base, moreLeft).better, 'faster, but more critical incidents never accepted');
  const run = (section: typeof base, reports: string[]): RunSummary => ({
    seed: 's', section, checks: [], ok: true, schema: null, city: { fleet: 'f', reports },
    meta: { ranking: 'learned', serverState: 'learned', personalities: null, warmupMin: 0, speedup: 1 },
  });
  const text = compareLines(run(base, ['a', 'b', 'c']), run(faster, ['a', 'b'])).join('\n');
  assert.match(text, /same city, fleet and report schedule: yes/);
  assert.match(text, /learned beats distance on critical time to first accept: YES/);
  assert.match(text, /critical → first accept p50 +3\.0s +2\.0s/);
});

figures('two runs meet the same city only with the same fleet and the same reports, in order', () => {
  const a = { fleet: fingerprint({ x: 1 }), reports: ['r1', 'r2', 'r3'] };
  assert.ok(sameCity(a, { ...a, reports: ['r1', 'r2'] }).same, 'one run stopped a report earlier');
  assert.not.ok(sameCity(a, { ...a, reports: ['r1', 'rX', 'r3'] }).same);
  assert.not.ok(sameCity(a, { ...a, fleet: fingerprint({ x: 2 }) }).same);
  assert.not.ok(sameCity(a, { ...a, reports: [] }).same, 'nothing sent proves nothing');
});

figures.run();

const run = suite('sim --ranking distance, end to end');

const RUN_BUDGET_MS = 180_000;

run('a short run starts its own server, passes its checks, and --keep leaves the schema npm run train reads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-ranking-'));
  const json = join(dir, 'run.json');
  const args = ['--ranking', 'distance', '--keep', '--seed', 'sim-ranking-test', '--minutes', '0.3', '--heroes', '20', '--rate', '90',
    '--city-km', '2', '--speedup', '10', '--drain', '3', '--check-max', '500', '--json', json];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/simulate.ts', ...args], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  let timer: NodeJS.Timeout | undefined;
  const code = await new Promise<number | string>((resolve) => {
    timer = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout'); }, RUN_BUDGET_MS);
    child.once('exit', (c, sig) => resolve(c ?? String(sig)));
  });
  clearTimeout(timer);
  let schema: string | null = /schema (sim_[a-z0-9]+)/.exec(out)?.[1] ?? null;
  try {
    assert.is(code, 0, `simulate exited ${code}:\n${out.slice(-3_000)}`);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as RunSummary;
    schema = summary.schema?.name ?? schema;
    assert.ok(summary.ok && summary.checks.length >= 8 && summary.checks.every((c) => c.ok), JSON.stringify(summary.checks.filter((c) => !c.ok)));
    assert.equal([summary.meta.ranking, summary.meta.personalities], ['distance', 'reliable 10, picky 4, slow_answer 3, slow_driver 2, ghost 1']);
    assert.ok(summary.section.offers.total > 0 && summary.section.offers.accepted > 0, JSON.stringify(summary.section.offers));
    assert.ok(summary.section.incidents > 0 && summary.city.reports.length >= summary.section.incidents);
    assert.equal(summary.schema, { name: schema, kept: true });
    assert.match(out, new RegExp(`DB_SCHEMA=${schema} npm run train`));
    // The server it started is gone; its schema holds the history training reads.
    const pid = Number(/\(pid (\d+), schema/.exec(out)?.[1]);
    assert.ok(pid > 0, 'the server\'s pid was printed');
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the server process was stopped');
    const sql = pg(schema!, 1);
    try {
      const [row] = await sql<{ offers: number; assignments: number }[]>`
        select (select count(*) from offers)::int as offers, (select count(*) from assignments)::int as assignments`;
      assert.ok(row!.offers >= summary.section.offers.total && row!.assignments > 0, JSON.stringify(row));
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    if (schema) await dropSchemas([schema]);
    rmSync(dir, { recursive: true, force: true });
  }
});

run.run();
