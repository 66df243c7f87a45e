// Pure tests of the team matcher (server/geo/team-matcher.ts): crafted cases where
// greedy choices are wrong (both greedy baselines are implemented here to show they
// are), max cardinality before speed, rare skills, backups, edge inputs, determinism,
// and a fast-check property against brute force on small instances.
// `TEAM_RUNS=5000` runs more property cases; `TEAM_SEED=<seed>` replays a failure.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseTeam, type TeamCandidate, type TeamPick, type TeamSlot } from '../server/geo/team-matcher.ts';

const runs = {
  numRuns: Number(process.env.TEAM_RUNS ?? 300),
  ...(process.env.TEAM_SEED ? { seed: Number(process.env.TEAM_SEED) } : {}),
};

const slots = (...skills: (string | null)[]): TeamSlot[] => skills.map((skill, slot) => ({ slot, skill }));
const hero = (heroId: string, etaMin: number, ...skills: string[]): TeamCandidate => ({ heroId, skills, etaMin });
const fits = (c: TeamCandidate, s: TeamSlot): boolean => s.skill === null || c.skills.includes(s.skill);
const byEta = (a: TeamCandidate, b: TeamCandidate): number => a.etaMin - b.etaMin || (a.heroId < b.heroId ? -1 : 1);

/** Per slot (in order), the hero assigned or null. */
type Assignment = (string | null)[];

/** Greedy by slot order: each slot in turn takes the nearest free hero who fits it. */
function greedyBySlot(open: TeamSlot[], cands: TeamCandidate[]): Assignment {
  const used = new Set<string>();
  return open.map((s) => {
    const c = [...cands].sort(byEta).find((h) => !used.has(h.heroId) && fits(h, s));
    if (c) used.add(c.heroId);
    return c?.heroId ?? null;
  });
}

/** Greedy nearest first: each hero, nearest first, takes the first open slot they fit. */
function greedyNearestFirst(open: TeamSlot[], cands: TeamCandidate[]): Assignment {
  const out: Assignment = open.map(() => null);
  for (const c of [...cands].sort(byEta)) {
    const i = open.findIndex((s, k) => out[k] === null && fits(c, s));
    if (i >= 0) out[i] = c.heroId;
  }
  return out;
}

const primaries = (picks: TeamPick[]): Assignment => picks.map((p) => p.heroIds[0] ?? null);
const etaOf = (cands: TeamCandidate[], id: string): number => cands.find((c) => c.heroId === id)!.etaMin;
const filled = (a: Assignment): number => a.filter((id) => id !== null).length;
const bottleneck = (a: Assignment, cands: TeamCandidate[]): number =>
  Math.max(-Infinity, ...a.filter((id): id is string => id !== null).map((id) => etaOf(cands, id)));
const total = (a: Assignment, cands: TeamCandidate[]): number =>
  a.filter((id): id is string => id !== null).reduce((sum, id) => sum + etaOf(cands, id), 0);

interface Best { filled: number; bottleneck: number; sum: number; covered: number[] }

/**
 * Every assignment (a slot may stay empty), the best by (filled desc, bottleneck, sum);
 * `covered` is the best set of slots such a team can fill, preferring scarce slots
 * (a skill before "any", then fewest candidates, then slot number) as the matcher does.
 */
function bruteForce(open: TeamSlot[], cands: TeamCandidate[]): Best {
  const leaves: Assignment[] = [];
  const current: Assignment = [];
  const walk = (i: number): void => {
    if (i === open.length) { leaves.push([...current]); return; }
    current.push(null); walk(i + 1); current.pop();
    for (const c of cands) {
      if (current.includes(c.heroId) || !fits(c, open[i]!)) continue;
      current.push(c.heroId); walk(i + 1); current.pop();
    }
  };
  walk(0);
  const cost = (a: Assignment) => ({ filled: filled(a), bottleneck: bottleneck(a, cands), sum: total(a, cands) });
  let best = cost(leaves[0]!);
  for (const leaf of leaves) {
    const c = cost(leaf);
    if (c.filled > best.filled
      || (c.filled === best.filled && (c.bottleneck < best.bottleneck
        || (c.bottleneck === best.bottleneck && c.sum < best.sum)))) best = c;
  }
  const room = (i: number) => cands.filter((c) => fits(c, open[i]!)).length;
  const priority = [...open.keys()].sort((a, b) =>
    Number(open[a]!.skill === null) - Number(open[b]!.skill === null) || room(a) - room(b) || a - b);
  let covered: number[] | null = null;
  for (const leaf of leaves) {
    const c = cost(leaf);
    if (c.filled !== best.filled || c.bottleneck !== best.bottleneck || c.sum !== best.sum) continue;
    const mine = priority.filter((i) => leaf[i] !== null);
    // Lexicographically earliest in priority order = covers the scarcest slots.
    const better = (x: number[], y: number[]) => {
      for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k]! < y[k]!;
      return false;
    };
    if (covered === null || better(mine.map((i) => priority.indexOf(i)), covered.map((i) => priority.indexOf(i)))) covered = mine;
  }
  return { ...best, covered: [...covered!].sort((a, b) => a - b) };
}

function checkWellFormed(open: TeamSlot[], cands: TeamCandidate[], perSlot: number, picks: TeamPick[]): void {
  assert.equal(picks.map((p) => p.slot), open.map((s) => s.slot), 'one pick per open slot, in order');
  const all = picks.flatMap((p) => p.heroIds);
  assert.is(new Set(all).size, all.length, `no hero twice: ${JSON.stringify(picks)}`);
  picks.forEach((p, i) => {
    assert.ok(p.heroIds.length <= Math.max(1, perSlot), `slot ${p.slot} has at most perSlot heroes`);
    for (const id of p.heroIds) {
      const c = cands.find((h) => h.heroId === id);
      assert.ok(c, `${id} is a candidate`);
      assert.ok(fits(c, open[i]!), `${id} has slot ${p.slot}'s skill ${open[i]!.skill}`);
    }
    // A short list means nobody eligible was left over.
    if (p.heroIds.length < perSlot) {
      const spare = cands.filter((c) => fits(c, open[i]!) && !all.includes(c.heroId));
      assert.equal(spare.map((c) => c.heroId), [], `slot ${p.slot} is short although heroes were left`);
    }
  });
}

// --- crafted cases where greedy is wrong ------------------------------------------

test('a hero fitting two slots goes where nobody else can go: greedy waits 10 min, the optimum 2', () => {
  const open = slots('rescue', 'medic');
  const cands = [hero('A', 1, 'rescue', 'medic'), hero('B', 2, 'rescue'), hero('D', 10, 'medic')];
  const best = primaries(chooseTeam(open, cands, 1));
  assert.equal(best, ['B', 'A']);
  assert.is(bottleneck(best, cands), 2);
  for (const greedy of [greedyBySlot, greedyNearestFirst]) {
    const g = greedy(open, cands);
    assert.is(filled(g), 2);
    assert.is(bottleneck(g, cands), 10, `${greedy.name} is slower`);
  }
});

test('an "any" slot first in order does not steal the near medic', () => {
  const open = slots(null, 'medic');
  const cands = [hero('A', 1, 'medic'), hero('C', 2), hero('B', 9, 'medic')];
  const best = primaries(chooseTeam(open, cands, 1));
  assert.equal(best, ['C', 'A']);
  assert.is(bottleneck(best, cands), 2);
  assert.equal(greedyBySlot(open, cands), ['A', 'B']);
  assert.equal(greedyNearestFirst(open, cands), ['A', 'B']);
});

test('a collapsed building (any, rescue, medic, rescue): the team is there in 4 min, not 12', () => {
  const open = slots(null, 'rescue', 'medic', 'rescue');
  const cands = [
    hero('A', 1, 'rescue', 'medic'), hero('B', 2, 'rescue'), hero('C', 3, 'medic'), hero('D', 4),
    hero('E', 12, 'rescue'), hero('F', 15, 'medic'),
  ];
  const best = primaries(chooseTeam(open, cands, 1));
  assert.is(filled(best), 4);
  assert.is(bottleneck(best, cands), 4);
  assert.is(total(best, cands), 10);
  assert.equal(new Set(best), new Set(['A', 'B', 'C', 'D']));
  assert.is(bottleneck(greedyBySlot(open, cands), cands), 12);
  assert.is(bottleneck(greedyNearestFirst(open, cands), cands), 12);
  assert.equal(bruteForce(open, cands), { filled: 4, bottleneck: 4, sum: 10, covered: [0, 1, 2, 3] });
});

test('among teams with the same slowest member, the smallest total ETA wins', () => {
  // The only hazmat hero sets the slowest member at 9 whatever else; W (8) would not
  // make the team later, but Y (5) makes it cheaper in total.
  const open = slots('hazmat', null, null);
  const cands = [hero('Z', 9, 'hazmat'), hero('Y', 5), hero('X', 1), hero('W', 8)];
  const best = primaries(chooseTeam(open, cands, 1));
  assert.is(bottleneck(best, cands), 9);
  assert.equal(best, ['Z', 'X', 'Y']);
});

// --- cardinality, rare skills -----------------------------------------------------

test('never leaves a slot empty to go faster: both slots filled though one member is 30 min out', () => {
  const open = slots('fire', 'medic');
  const cands = [hero('A', 1, 'medic', 'fire'), hero('F', 30, 'fire')];
  const best = primaries(chooseTeam(open, cands, 1));
  assert.equal(best, ['F', 'A']);
  assert.is(bottleneck(best, cands), 30);
  // Nearest first puts A in the fire slot and leaves the medic slot empty.
  assert.equal(greedyNearestFirst(open, cands), ['A', null]);
});

test('the only hazmat hero fills the hazmat slot even when fastest for the others', () => {
  const open = slots(null, null, 'hazmat');
  const cands = [hero('H', 1, 'hazmat'), hero('X', 2), hero('Y', 3), hero('Z', 4)];
  const near = primaries(chooseTeam(open, cands, 1));
  assert.is(near[2], 'H');
  assert.equal(new Set(near), new Set(['X', 'Y', 'H']));
  assert.equal(greedyBySlot(open, cands), ['H', 'X', null], 'greedy by slot order leaves hazmat empty');
  // Far away, still the hazmat hero: the team waits for them rather than go without.
  const far = [hero('H', 25, 'hazmat'), hero('X', 1), hero('Y', 2)];
  const team = primaries(chooseTeam(open, far, 1));
  assert.equal(team, ['X', 'Y', 'H']);
  assert.is(bottleneck(team, far), 25);
});

test('when a slot must stay empty, it is the easy one, not the rare skill', () => {
  // One hero for an "any" slot (numbered first) and a hazmat slot: hazmat is covered.
  const open = slots(null, 'hazmat');
  assert.equal(chooseTeam(open, [hero('R', 1, 'hazmat')], 1), [{ slot: 0, heroIds: [] }, { slot: 1, heroIds: ['R'] }]);
  // Two slots only R can fill: one stays empty whatever we do; the lower number wins.
  assert.equal(chooseTeam(slots('hazmat', 'diver'), [hero('R', 1, 'diver', 'hazmat')], 1),
    [{ slot: 0, heroIds: ['R'] }, { slot: 1, heroIds: [] }]);
});

// --- backups --------------------------------------------------------------------

test('backups: each round is an optimal choice among the heroes left, no hero twice', () => {
  const open = slots('medic', null);
  const cands = [hero('M1', 1, 'medic'), hero('O1', 1.5), hero('M2', 2, 'medic'), hero('M3', 3, 'medic'), hero('O2', 4), hero('O3', 5)];
  const picks = chooseTeam(open, cands, 3);
  checkWellFormed(open, cands, 3, picks);
  // Round 2 takes {M2, M3} (slowest 3) over {M2, O2} (slowest 4); round 3 has no medic left.
  assert.equal(picks, [{ slot: 0, heroIds: ['M1', 'M2'] }, { slot: 1, heroIds: ['O1', 'M3', 'O2'] }]);
});

test('backups: within a round an "any" slot leaves the last medic to the medic slot', () => {
  const open = slots(null, 'medic');
  const cands = [hero('O1', 1), hero('M1', 2, 'medic'), hero('M2', 3, 'medic'), hero('O2', 9)];
  const picks = chooseTeam(open, cands, 2);
  checkWellFormed(open, cands, 2, picks);
  // Nearest first for each slot in turn would give the "any" slot M2 and the medic slot nobody.
  assert.equal(picks, [{ slot: 0, heroIds: ['O1', 'O2'] }, { slot: 1, heroIds: ['M1', 'M2'] }]);
});

test('backups: one slot cannot take all the good ones', () => {
  const open = slots(null, null);
  const cands = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => hero(id, i + 1));
  const picks = chooseTeam(open, cands, 3);
  checkWellFormed(open, cands, 3, picks);
  assert.equal(picks, [{ slot: 0, heroIds: ['a', 'c', 'e'] }, { slot: 1, heroIds: ['b', 'd', 'f'] }]);
  // Fewer heroes than asked: shared out, then the lists run short.
  const few = chooseTeam(open, cands.slice(0, 3), 3);
  assert.equal(few, [{ slot: 0, heroIds: ['a', 'c'] }, { slot: 1, heroIds: ['b'] }]);
});

test('backups never reuse a team member, and a slot nobody can fill gets none', () => {
  const open = slots('diver', 'medic', null);
  const cands = [hero('M', 1, 'medic'), hero('N', 2, 'medic'), hero('P', 3)];
  const picks = chooseTeam(open, cands, 2);
  checkWellFormed(open, cands, 2, picks);
  assert.equal(picks, [{ slot: 0, heroIds: [] }, { slot: 1, heroIds: ['M'] }, { slot: 2, heroIds: ['N', 'P'] }]);
});

// --- edge inputs ------------------------------------------------------------------

test('empty inputs', () => {
  assert.equal(chooseTeam([], [hero('A', 1)], 1), []);
  assert.equal(chooseTeam(slots('medic', null), [], 2), [{ slot: 0, heroIds: [] }, { slot: 1, heroIds: [] }]);
  assert.equal(chooseTeam([], [], 3), []);
});

test('skill null slots take anyone, heroes with no skills fill only those', () => {
  const open = slots(null, 'medic');
  const picks = chooseTeam(open, [hero('A', 1), hero('B', 2)], 1);
  assert.equal(picks, [{ slot: 0, heroIds: ['A'] }, { slot: 1, heroIds: [] }]);
  // A candidate whose skills arrive as null (bad data) is treated as having none.
  const odd = { heroId: 'Q', skills: null as unknown as string[], etaMin: 1 };
  assert.equal(chooseTeam(open, [odd], 1), [{ slot: 0, heroIds: ['Q'] }, { slot: 1, heroIds: [] }]);
});

test('more slots than heroes: every hero placed, the rest empty', () => {
  const open = slots(null, null, null, null);
  const picks = chooseTeam(open, [hero('B', 2), hero('A', 1)], 1);
  assert.equal(picks.map((p) => p.heroIds), [['A'], ['B'], [], []]);
});

test('slot numbers are kept, whatever the order they come in', () => {
  const open: TeamSlot[] = [{ slot: 4, skill: 'medic' }, { slot: 2, skill: null }];
  const picks = chooseTeam(open, [hero('A', 1, 'medic'), hero('C', 2)], 1);
  assert.equal(picks, [{ slot: 4, heroIds: ['A'] }, { slot: 2, heroIds: ['C'] }]);
});

test('a hero listed twice counts once, at the better ETA; perSlot below 1 still gives the team', () => {
  const open = slots(null, null);
  const picks = chooseTeam(open, [hero('A', 9), hero('B', 5), hero('A', 1)], 0);
  assert.equal(picks, [{ slot: 0, heroIds: ['A'] }, { slot: 1, heroIds: ['B'] }]);
  assert.equal(chooseTeam(open, [hero('A', Number.NaN), hero('B', 5)], 1).map((p) => p.heroIds), [['B'], ['A']]);
});

test('deterministic: equal ETAs go to the smaller heroId, whatever the input order', () => {
  const open = slots('medic', null);
  const cands = [hero('m2', 3, 'medic'), hero('z', 3), hero('m1', 3, 'medic'), hero('a', 3), hero('b', 3)];
  const expected = [{ slot: 0, heroIds: ['m1', 'm2'] }, { slot: 1, heroIds: ['a', 'b'] }];
  assert.equal(chooseTeam(open, cands, 2), expected);
  assert.equal(chooseTeam(open, [...cands].reverse(), 2), expected);
});

// --- property: optimal against brute force -----------------------------------------

const SKILLS = ['medic', 'rescue', 'fire'];
const instance = fc.record({
  open: fc.array(fc.constantFrom<string | null>(null, ...SKILLS), { minLength: 0, maxLength: 5 }).map((s) => slots(...s)),
  cands: fc.array(fc.record({
    // Quarters are exact in binary, so sums compare exactly; the small range makes ties common.
    etaMin: fc.integer({ min: 0, max: 40 }).map((q) => q / 4),
    skills: fc.subarray(SKILLS),
  }), { minLength: 0, maxLength: 7 }).map((hs) => hs.map((h, i) => ({ heroId: `h${i}`, ...h }))),
  perSlot: fc.integer({ min: 1, max: 3 }),
});

test('property: as many slots, the same slowest member, the same total and the same slots as brute force', () => {
  fc.assert(fc.property(instance, ({ open, cands, perSlot }) => {
    const picks = chooseTeam(open, cands, perSlot);
    checkWellFormed(open, cands, perSlot, picks);
    const team = primaries(picks);
    const best = bruteForce(open, cands);
    assert.is(filled(team), best.filled, 'filled slots');
    assert.is(bottleneck(team, cands), best.bottleneck, 'slowest member');
    assert.is(total(team, cands), best.sum, 'total ETA');
    assert.equal(team.flatMap((id, i) => (id === null ? [] : [i])), best.covered, 'the slots left empty are the easy ones');
    // The primaries do not depend on how many backups were asked for.
    assert.equal(primaries(chooseTeam(open, cands, 1)), team);
    // Nor does anything depend on the order of the candidates.
    assert.equal(chooseTeam(open, [...cands].reverse(), perSlot), picks);
  }), runs);
});

test.run();
