// The simulator with `--teams`: its final checks fed team runs that must fail, the team
// arithmetic it reads views with, and a seeded fleet that can fill every team it reports.
// No server: pure functions over counts and wire shapes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { judge, type ReportAudit, type ScanResult } from '../scripts/sim/checks.ts';
import { Rng, seedFrom } from '../scripts/sim/rng.ts';
import { Stats } from '../scripts/sim/stats.ts';
import { filledSlots, pickTeam, teamSize, teamSkills } from '../scripts/sim/teams.ts';
import type { Incident } from '../scripts/sim/types.ts';

/** A healthy team run: 100 incidents, 20 of them teams of 2 or 4, all filled. */
function healthy(): { stats: Stats; audit: ReportAudit; scan: ScanResult } {
  const stats = new Stats();
  Object.assign(stats.reports, { sent: 100, created: 100 });
  Object.assign(stats.offers, { received: 180, accepted: 130, declined: 30, ignored: 20 });
  Object.assign(stats.progress, { en_route: 120, on_scene: 100, resolved: 90 });
  Object.assign(stats.scans, { runs: 3 });
  for (let i = 0; i < 100; i++) {
    const size = i < 10 ? 2 : i < 20 ? 4 : 1;
    if (size > 1) stats.teamSent(size);
    stats.noteReported(`inc-${i}`, { t0: 0, severity: 'high', kind: 'fire', hotspot: null, size });
    stats.mark(stats.assigned, `inc-${i}`, 100 * size);
  }
  const audit: ReportAudit = { checked: 100, total: 100, lost: [], stillReported: [], unverified: [], finalStates: new Map([['resolved', 90]]), heldByVanished: 0, vanishedChecked: 0 };
  return { stats, audit, scan: { incidents: 30, truncated: false, violations: [] } };
}

const verdict = (run: ReturnType<typeof healthy>, teams = true) => {
  const checks = judge({ stats: run.stats, audit: run.audit, auditError: null, scan: run.scan, scanError: null, overfilled: 0, teams });
  return { ok: checks.every((c) => c.ok), failed: checks.filter((c) => !c.ok).map((c) => c.name), names: checks.map((c) => c.name) };
};

const checks = suite('simulator team checks');

checks('a healthy team run passes, and time to full team is kept by team size', () => {
  const run = healthy();
  const v = verdict(run);
  assert.ok(v.ok, v.failed.join(', '));
  assert.equal(run.stats.assigned.bySize.get(2)?.length, 10);
  assert.equal(run.stats.assigned.bySize.get(4)?.length, 10);
  assert.equal(run.stats.assigned.bySize.get(1)?.length, 80);
  assert.equal(run.stats.assigned.bySize.get(4)?.[0], 400);
});

checks('without --teams the team checks are not part of the verdict', () => {
  const v = verdict(healthy(), false);
  for (const name of ['teams were filled', "every offer fits the hero's skills", 'no team shown assigned with a slot open']) {
    assert.not.ok(v.names.includes(name), name);
  }
});

checks('an offer for a skill the hero lacks fails', () => {
  const run = healthy();
  run.stats.offers.misfit = 1;
  assert.equal(verdict(run).failed, ["every offer fits the hero's skills"]);
});

checks('a team shown assigned with a slot open fails', () => {
  const run = healthy();
  run.stats.underfilled.add('inc-3');
  assert.equal(verdict(run).failed, ['no team shown assigned with a slot open']);
});

checks('a run whose teams never filled (or were answered as one-hero incidents) fails', () => {
  const never = healthy();
  for (const size of [2, 4]) never.stats.assigned.bySize.delete(size);
  assert.equal(verdict(never).failed, ['teams were filled']);
  const flattened = new Stats(); // the server ignored `needs`: every incident needs one hero
  Object.assign(flattened.reports, { sent: 10, created: 10 });
  Object.assign(flattened.offers, { received: 10, accepted: 10 });
  Object.assign(flattened.progress, { en_route: 10 });
  flattened.teamSent(2);
  for (let i = 0; i < 10; i++) {
    flattened.noteReported(`inc-${i}`, { t0: 0, severity: 'high', kind: 'fire', hotspot: null, size: 1 });
    flattened.mark(flattened.assigned, `inc-${i}`, 5);
  }
  assert.ok(verdict({ ...healthy(), stats: flattened }).failed.includes('teams were filled'));
});

checks.run();

const views = suite('team views');

const view = (over: Partial<Incident>): Incident => ({
  id: 'i', kind: 'fire', severity: 'high', state: 'dispatching', location: { lat: 0, lng: 0 }, description: '',
  needs: [{ skill: 'firefighting', count: 1 }, { skill: 'medical', count: 2 }], reportedBy: 'c', assignments: [],
  version: 1, createdAt: 0, updatedAt: 0, ...over,
});

views('size comes from the slots, else from the needs; one hero by default', () => {
  assert.is(teamSize(view({})), 3);
  assert.is(teamSize(view({ slots: [{ slot: 0, skill: null, heroId: null }, { slot: 1, skill: null, heroId: null }] })), 2);
  assert.is(teamSize(view({ needs: [] })), 1);
});

views('filled slots count members active or completed, never a released one, never a slot twice', () => {
  const a = (heroId: string, slot: number, state: 'active' | 'released' | 'completed') => ({ heroId, slot, state, skill: null, assignedAt: 0 });
  const inc = view({ assignments: [a('h1', 0, 'completed'), a('h2', 1, 'released'), a('h3', 1, 'active'), a('h4', 2, 'released')] });
  assert.is(filledSlots(inc), 2);
  assert.is(filledSlots({ ...inc, slots: [{ slot: 0, skill: 'firefighting', heroId: 'h1' }, { slot: 1, skill: 'medical', heroId: 'h3' }, { slot: 2, skill: 'medical', heroId: null }] }), 2);
});

views.run();

const fleet = suite('team mixes and skills');

fleet('every team reported asks for at most 10 heroes, and a seeded fleet of 300 can fill it', () => {
  const rng = new Rng(seedFrom('teams'));
  const heroes = Array.from({ length: 300 }, () => teamSkills(rng));
  for (let i = 0; i < 500; i++) {
    const team = pickTeam(rng);
    const total = team.needs.reduce((n, x) => n + x.count, 0);
    assert.ok(total >= 2 && total <= 10, `${team.kind}: ${total} heroes`);
    for (const need of team.needs) {
      const holders = need.skill === null ? heroes.length : heroes.filter((s) => s.includes(need.skill!)).length;
      assert.ok(holders >= 10 * need.count, `${need.skill}: ${holders} holders for ${need.count}`);
    }
  }
});

fleet.run();
