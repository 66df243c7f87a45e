// Heroes with personalities (issue 16): people differ in how often they take an offer,
// how long they think before answering, whether they answer at all, and how fast they
// really get there. The learned ranking can only prove itself in a city where heroes are
// not all alike, so `--personalities` gives each hero one of a documented mix, drawn from
// its own seeded stream: the same seed gives the same heroes the same personalities.
import { Rng, seedFrom } from './rng.ts';

export const PERSONALITY_KINDS = ['reliable', 'picky', 'slow_answer', 'slow_driver', 'ghost'] as const;
export type PersonalityKind = (typeof PERSONALITY_KINDS)[number];

export interface Personality {
  kind: PersonalityKind;
  /** Share of the fleet with this personality. */
  share: number;
  /** P(accept) of an offer the hero is free to take. */
  accept: number;
  /** Of the offers not accepted, the share declined; the rest are ignored (left to expire). */
  declineShare: number;
  /** Seconds from receiving an offer to answering it, uniform in [lo, hi]. */
  answerS: readonly [number, number];
  /**
   * Real speed over the speed the simulator moves the hero's mode at (patrol and rush
   * alike). The server's physics ETA assumes every hero goes at its mode's full speed.
   */
  speed: number;
  /** One line for the README and the report. */
  what: string;
}

/**
 * The mix. Answer times are against the default 15 s offer window (OFFER_TIMEOUT_MS):
 * slow answerers think 8–14 s, so a little server or network delay makes some of them late.
 */
export const PERSONALITIES: Readonly<Record<PersonalityKind, Personality>> = {
  reliable: { kind: 'reliable', share: 0.5, accept: 0.9, declineShare: 0.8, answerS: [2, 4], speed: 1, what: 'accepts 90%, answers in 2–4 s, drives at full speed' },
  picky: { kind: 'picky', share: 0.2, accept: 0.3, declineShare: 0.8, answerS: [2, 4], speed: 1, what: 'accepts 30% (declines most of the rest), answers in 2–4 s' },
  slow_answer: { kind: 'slow_answer', share: 0.15, accept: 0.7, declineShare: 0.5, answerS: [8, 14], speed: 1, what: 'accepts 70%, answers in 8–14 s of the 15 s window' },
  slow_driver: { kind: 'slow_driver', share: 0.1, accept: 0.9, declineShare: 0.8, answerS: [2, 4], speed: 0.6, what: 'accepts 90%, answers in 2–4 s, moves at 0.6× the speed the physics ETA assumes' },
  ghost: { kind: 'ghost', share: 0.05, accept: 0, declineShare: 0, answerS: [2, 4], speed: 1, what: 'never answers: every offer expires' },
};

/**
 * Exactly how many of `n` heroes get each personality: the shares rounded by largest
 * remainder (ties to the earlier kind), so the mix is exact for any fleet, not merely
 * expected.
 */
export function quotas(n: number): Record<PersonalityKind, number> {
  const raw = PERSONALITY_KINDS.map((k) => PERSONALITIES[k].share * n);
  const out = raw.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = PERSONALITY_KINDS.map((_, i) => i).sort((a, b) => (raw[b]! - out[b]!) - (raw[a]! - out[a]!) || a - b);
  for (const i of order) {
    if (left <= 0) break;
    out[i]! += 1;
    left -= 1;
  }
  return Object.fromEntries(PERSONALITY_KINDS.map((k, i) => [k, out[i]!])) as Record<PersonalityKind, number>;
}

/**
 * The personality of each hero, by the hero's index in the seeded plan: the quotas,
 * shuffled (Fisher–Yates) with a stream of their own, so turning personalities on does
 * not change the city, the heroes' modes and skills, or the civilians' reports.
 */
export function assignPersonalities(n: number, seed: string): Personality[] {
  const q = quotas(n);
  const kinds = PERSONALITY_KINDS.flatMap((k) => Array.from({ length: q[k] }, () => k));
  const rng = new Rng(seedFrom(`${seed}/personalities`));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds.map((k) => PERSONALITIES[k]);
}

/** The hero's own stream for everything it does at run time (answers, patrol, pings, rescues). */
export function heroRng(seed: string, index: number): Rng {
  return new Rng(seedFrom(`${seed}/hero/${index}`));
}

export type Answer = 'accept' | 'decline' | 'ignore';

/** How this hero answers one offer, and after how long. Always two draws, whatever the outcome. */
export function answerOf(p: Personality, rng: Rng): { choice: Answer; delayMs: number } {
  const r = rng.next();
  const delayMs = rng.range(p.answerS[0], p.answerS[1]) * 1000;
  const choice: Answer = r < p.accept ? 'accept' : r < p.accept + (1 - p.accept) * p.declineShare ? 'decline' : 'ignore';
  return { choice, delayMs };
}

/** "reliable 150, picky 60, …" for a list of personalities. */
export function mixLine(ps: readonly (Personality | null)[]): string {
  const n = new Map<PersonalityKind, number>();
  for (const p of ps) if (p) n.set(p.kind, (n.get(p.kind) ?? 0) + 1);
  return PERSONALITY_KINDS.map((k) => `${k} ${n.get(k) ?? 0}`).join(', ');
}
