// Choosing a team: which candidate to offer each open slot. Pure and synchronous;
// the dispatcher gathers candidates (with ETAs) and makes the offers.
//
// Objective, in order:
//   1. fill as many slots as possible (max cardinality: a slot left empty to go faster
//      is a missed dispatch);
//   2. among those, minimise the slowest member's ETA (the team's arrival);
//   3. among those, minimise the sum of ETAs; remaining ties go to the smaller heroId.
//
// Why a greedy sweep is exact here. A member's ETA belongs to the hero, not to the
// (slot, hero) pair, so a team's cost depends only on WHICH heroes are chosen. The
// sets of heroes that can be matched into the slots form a matroid (the transversal
// matroid of the slot/hero bipartite graph). On a matroid, taking elements in
// ascending weight and keeping each one that stays independent (Rado–Edmonds greedy)
// yields a basis whose sorted weight vector is pointwise minimal over all bases (Gale), so
// it is at once of maximum size, minimum maximum (bottleneck) and minimum sum. The
// sweep below is exactly that: heroes in (ETA, heroId) order, each kept if an
// augmenting path (Kuhn) fits it in with the heroes already kept. It is also the
// "sweep over ETA thresholds with a max-matching restricted to edges ≤ threshold"
// done incrementally: the threshold at which the matching stops growing is the
// optimal bottleneck. No separate min-cost pass is needed because (3) falls out of
// the same greedy; the property test checks (1)-(3) against brute force.
//
// Rare skills. Say hero R is the only candidate with slot s's skill. If any
// assignment fills every slot, R is in s in all of them, and objective (1) insists on
// filling every slot, so R goes to s even when R is also the fastest hero for another
// slot t and the team arrives later for it: the bottleneck only chooses among full
// teams. A faster team with s empty would be a team without its hazmat hero. When not
// every slot can be filled, the slots left empty are the easiest ones to fill later
// (most eligible heroes), so s is left empty only if slots at least as scarce need the
// same heroes (assignRound). A rare-skill hero far away is still offered s: there is
// nobody else, and a late specialist beats a team that never gets one.
//
// Backups (perSlot > 1) come in rounds, one per slot per round, each round the same
// choice among the heroes not used yet; see chooseTeam.
//
// Size: slots ≤ 10, candidates ≤ a few hundred; each hero costs one augmenting
// search over ≤ 10 slots, and a round stops as soon as every slot is filled.

export interface TeamSlot { slot: number; skill: string | null }
export interface TeamCandidate { heroId: string; skills: string[]; etaMin: number }
export interface TeamPick { slot: number; heroIds: string[] }

/** A candidate after ranking: `fits` are the indexes (into openSlots) of slots they can fill. */
interface Hero { heroId: string; fits: number[] }
type Order = (a: number, b: number) => number;

/**
 * For each open slot (in the order given), up to `perSlot` distinct heroes who have the
 * slot's skill (null = anyone); no hero appears twice in the whole answer. The first
 * hero of each slot forms the optimal assignment described above; the others are
 * backups, handed out round-robin. A slot nobody can fill gets `heroIds: []`.
 */
export function chooseTeam(openSlots: TeamSlot[], candidates: TeamCandidate[], perSlot: number): TeamPick[] {
  const n = openSlots.length;
  const picks: string[][] = openSlots.map(() => []);
  if (n === 0) return [];
  // Slots are handled in slot-number order whatever order they came in.
  const bySlot: Order = (a, b) => openSlots[a]!.slot - openSlots[b]!.slot || a - b;
  const heroes = rankHeroes(openSlots, candidates, bySlot);

  // Round 0 is the team itself. Each further round gives every slot still taking
  // heroes one backup, chosen the same way among the heroes not used yet: one slot
  // cannot take all the good backups, and within a round an "any" slot does not take
  // the medic a medic slot needs while someone else would do (max cardinality again).
  // Across rounds it is greedy: an "any" slot's round-2 backup may be a medic that a
  // medic slot's round-3 backup would have wanted; a backup that far down the list
  // matters little. A slot left out of a round has no eligible hero left (else the
  // round's matching would have grown), so it drops out of later rounds, and a slot
  // nobody can fill gets no backups.
  const rounds = perSlot >= 1 ? Math.floor(perSlot) : 1; // NaN, 0 or less: the team only
  const eligible: number[][] = openSlots.map(() => []); // per slot, hero indexes in rank order
  heroes.forEach((hero, h) => { for (const s of hero.fits) eligible[s]!.push(h); });
  const skillOf = openSlots.map((slot) => slot.skill ?? null);
  const used = new Array<boolean>(heroes.length).fill(false);
  const open = new Array<boolean>(n).fill(true);
  for (let round = 0; round < rounds && open.includes(true); round++) {
    const holder = assignRound(heroes, eligible, skillOf, open, used, bySlot);
    for (let s = 0; s < n; s++) {
      if (!open[s]) continue;
      const h = holder[s]!;
      if (h === -1) { open[s] = false; continue; }
      used[h] = true;
      picks[s]!.push(heroes[h]!.heroId);
    }
  }

  return openSlots.map((slot, s) => ({ slot: slot.slot, heroIds: picks[s]! }));
}

/**
 * One round: which hero holds each open slot (-1 for none), among heroes not used yet.
 *
 * First WHO: the greedy sweep over heroes in rank order, each kept if an augmenting
 * path fits them in beside those already kept (see the top of the file). Then WHERE:
 * when fewer heroes than slots can be placed, some slot stays empty, and it should be
 * the easiest to fill later, not the hazmat slot. The slots that can be covered
 * together form a matroid too, so the same greedy from the slot side, scarcest slot
 * first, gives the best set of slots to cover. Scarcest: a slot with a skill before
 * an "any" slot (anyone farther away or free later can fill that), then fewest
 * eligible heroes left, then slot number. That set of slots can be covered by exactly
 * the heroes chosen (Mendelsohn–Dulmage: a matchable set of heroes and a matchable
 * set of slots are covered by one matching, and here both have the maximum size), so
 * the second pass only looks at the chosen heroes and the team's cost is unchanged.
 */
function assignRound(
  heroes: Hero[], eligible: number[][], skillOf: (string | null)[], open: boolean[], used: boolean[], bySlot: Order,
): number[] {
  const n = open.length;
  const want = open.filter(Boolean).length;

  const slotOf = new Array<number>(n).fill(-1);
  const seen = new Array<boolean>(n);
  // A free slot is taken before anyone is moved, so earlier (faster) heroes keep their
  // first choice when it costs nothing; only the answer's layout depends on it.
  const placeHero = (h: number): boolean => {
    const fits = heroes[h]!.fits;
    for (const s of fits) if (open[s] && !seen[s] && slotOf[s] === -1) { seen[s] = true; slotOf[s] = h; return true; }
    for (const s of fits) {
      if (!open[s] || seen[s]) continue;
      seen[s] = true;
      if (placeHero(slotOf[s]!)) { slotOf[s] = h; return true; }
    }
    return false;
  };
  let kept = 0;
  for (let h = 0; h < heroes.length && kept < want; h++) {
    if (used[h] || heroes[h]!.fits.length === 0) continue;
    seen.fill(false);
    if (placeHero(h)) kept++;
  }
  if (kept === want) return slotOf; // every open slot is covered: nothing to choose

  const chosen = new Set(slotOf.filter((h) => h !== -1));
  const room = (s: number): number => eligible[s]!.filter((h) => !used[h]).length;
  const scarcity = new Map([...Array(n).keys()].filter((s) => open[s]).map((s) => [s, room(s)] as const));
  const anyone = (s: number): number => (skillOf[s] === null ? 1 : 0);
  const order = [...scarcity.keys()]
    .sort((a, b) => anyone(a) - anyone(b) || scarcity.get(a)! - scarcity.get(b)! || bySlot(a, b));
  const heroIn = new Map<number, number>(); // hero index -> slot index
  const tried = new Set<number>();
  const placeSlot = (s: number): boolean => {
    const mine = eligible[s]!.filter((h) => chosen.has(h));
    for (const h of mine) if (!tried.has(h) && !heroIn.has(h)) { tried.add(h); heroIn.set(h, s); return true; }
    for (const h of mine) {
      if (tried.has(h)) continue;
      tried.add(h);
      if (placeSlot(heroIn.get(h)!)) { heroIn.set(h, s); return true; }
    }
    return false;
  };
  for (const s of order) { tried.clear(); placeSlot(s); }
  const holder = new Array<number>(n).fill(-1);
  for (const [h, s] of heroIn) holder[s] = h;
  return holder;
}

/** Candidates as heroes sorted by (ETA, heroId), each with the slot indexes they fit. */
function rankHeroes(openSlots: TeamSlot[], candidates: TeamCandidate[], bySlot: Order): Hero[] {
  const anySlots: number[] = [];
  const bySkill = new Map<string, number[]>();
  openSlots.forEach((slot, s) => {
    if (slot.skill === null || slot.skill === undefined) { anySlots.push(s); return; }
    const list = bySkill.get(slot.skill);
    if (list) list.push(s); else bySkill.set(slot.skill, [s]);
  });

  // An unknown ETA ranks last rather than poisoning the sort; a hero listed twice
  // counts once, at their best ETA.
  const etaOf = (c: TeamCandidate): number => (Number.isNaN(c.etaMin) ? Infinity : c.etaMin);
  const sorted = [...candidates].sort((a, b) => etaOf(a) - etaOf(b) || compareIds(a.heroId, b.heroId));
  const seenIds = new Set<string>();
  const heroes: Hero[] = [];
  for (const c of sorted) {
    if (seenIds.has(c.heroId)) continue;
    seenIds.add(c.heroId);
    const fits = new Set<number>(anySlots);
    for (const skill of c.skills ?? []) for (const s of bySkill.get(skill) ?? []) fits.add(s);
    // The order of `fits` decides which equally good slot a hero tries first; slot
    // order keeps the answer independent of the order of the hero's skills.
    heroes.push({ heroId: c.heroId, fits: [...fits].sort(bySlot) });
  }
  return heroes;
}

/** Code-unit order, not locale order: the same answer on every machine. */
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
