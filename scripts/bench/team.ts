// The team figures, each beside its one-hero counterpart.
// team_accept_race_p99_ms: the server runs with OFFER_BATCH_CRITICAL=8 and 40 heroes
// stand together (16 medics, 16 rescuers, 8 with neither). Each round one critical
// report needs 5 heroes (2 medic, 2 rescue, 1 any); each slot is offered to 8 of them at
// once; once the offers have arrived all racers send `offer:accept` in the same tick and
// we time the last ack (the `accept` group's race, with slots). One winner per slot,
// every loser `taken`; a round races the offers made (the batch may be smaller). Bare: 40 postgres.js connections racing guarded UPDATEs over 5
// rows (accept.ts).
// team_report_to_full_p50_ms: default settings, 30 heroes with skills around one spot
// who accept every offer at once. Rounds alternate a one-hero report and a 2–4 hero team
// (medic + rescue; fire + medic + any; 4× rescue), severities in turn: report sent → the
// accept filling the last slot answered ok. The one-hero rounds give
// report_to_assigned_p50_ms from the same harness and the same run.
import { bareRace, type Round } from './accept.ts';
import { pct, round } from '../lib/stats.ts';
import { around, CITY, civilianTokens, metric, note, progress, type Metric, type Opts } from './common.ts';
import { withScenario } from './scenario.ts';

interface Need { skill: string | null; count: number }
interface Assembled { size: number; severity: string; fullMs: number | null; members: number }

const RACE_NEEDS: Need[] = [{ skill: 'medic', count: 2 }, { skill: 'rescue', count: 2 }, { skill: null, count: 1 }];
const RACE_SLOTS = 5;
const RACERS = 40;
const PER_SLOT = RACERS / RACE_SLOTS;
const raceSkills = (i: number) => (i < 16 ? ['medic'] : i < 32 ? ['rescue'] : ['strength']);

const TEAMS: Need[][] = [
  [{ skill: 'medic', count: 1 }, { skill: 'rescue', count: 1 }],
  [{ skill: 'fire', count: 1 }, { skill: 'medic', count: 1 }, { skill: null, count: 1 }],
  [{ skill: 'rescue', count: 4 }],
];
const ASSEMBLE_HEROES = 30;
const assembleSkills = (i: number) => [['medic'], ['rescue'], ['fire'], ['medic', 'rescue'], ['rescue']][i % 5]!;
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
/** No linking: every round's report must be a new incident, wherever the last one is. */
const NO_LINKING = { DEDUPE_RADIUS_M: '0' };

/** A round is bad unless every slot was won exactly once and every loser was answered `taken`. */
const badRound = (r: Round) => Object.keys(r.winnersBySlot).length !== RACE_SLOTS
  || Object.values(r.winnersBySlot).some((n) => n !== 1)
  || Object.keys(r.reasons).some((k) => k !== 'ok' && k !== 'taken');

async function teamRace(o: Opts): Promise<Metric[]> {
  const rounds = o.quick ? 20 : 100;
  const civilians = await civilianTokens(rounds);
  const res = await withScenario('team race', { OFFER_BATCH_CRITICAL: String(PER_SLOT), ...NO_LINKING },
    { n: RACERS, place: () => around(CITY, 0.5), behaviour: 'race', skills: raceSkills },
    async ({ server, agent }) => {
      progress(`team race: ${rounds} rounds of ${RACERS} simultaneous accepts for ${RACE_SLOTS} slots`);
      return agent.call<Round[]>('race', { url: server.url, civilians, spot: CITY, rounds, racers: RACERS, needs: RACE_NEEDS });
    });
  const bare = await bareRace(o.quick ? 100 : 300, RACERS, RACE_SLOTS);

  const ms = res.map((r) => r.lastAckMs);
  const p99 = pct(ms, 0.99);
  const b99 = pct(bare.ms, 0.99);
  const bad = res.filter(badRound).length;
  const racers = res.map((r) => r.racers);
  const reasons: Record<string, number> = {};
  for (const r of res) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  note(`team accept race: ${res.length} rounds of a 5-slot incident (2 medic, 2 rescue, 1 any), ${Math.min(...racers)}–${Math.max(...racers)} racers per round (offers in before the batch went quiet, 5 s at most; first to last offer p50 ${round(pct(res.map((r) => r.spreadMs), 0.5), 1)} / max ${round(Math.max(...res.map((r) => r.spreadMs)), 1)} ms), answers ${JSON.stringify(reasons)}; `
    + `last ack p50 ${round(pct(ms, 0.5), 1)} / p99 ${round(p99, 1)} ms; ${bad} rounds without exactly one winner per slot or with a loser not answered \`taken\`. `
    + `Bare guarded UPDATE × ${RACERS} over ${RACE_SLOTS} rows: ${bare.ms.length} rounds, p50 ${round(pct(bare.ms, 0.5), 2)} / p99 ${round(b99, 2)} ms, ${bare.bad} rounds without one winner per row.`);
  return [
    metric('team_accept_race_p99_ms', round(p99, 1), 'ms', round(b99, 2), '≤ 100 (5 winners on one incident)', p99 <= 100),
    metric('team_accept_race_rounds_not_one_per_slot', bad, 'rounds', bare.bad, '0 (one winner per slot, losers `taken`)', bad === 0),
  ];
}

async function reportToFull(o: Opts): Promise<Metric[]> {
  const pairs = o.quick ? 15 : 60;
  // One-hero and team rounds alternate, so both meet the same server at the same time;
  // each pair has the next severity.
  const rounds = Array.from({ length: pairs }, (_, i) => {
    const severity = SEVERITIES[i % SEVERITIES.length]!;
    return [{ needs: null, severity }, { needs: TEAMS[i % TEAMS.length]!, severity }];
  }).flat();
  const civilians = await civilianTokens(rounds.length);
  const res = await withScenario('team assemble', NO_LINKING,
    { n: ASSEMBLE_HEROES, place: () => around(CITY, 1), behaviour: 'hold', skills: assembleSkills },
    async ({ server, agent }) => {
      progress(`team assemble: ${rounds.length} rounds, one-hero and 2–4 hero reports in turn, heroes accepting at once`);
      return agent.call<Assembled[]>('assemble', { url: server.url, civilians, spot: CITY, rounds, waitMs: 10_000 });
    });

  const times = (xs: Assembled[]) => xs.map((r) => r.fullMs ?? Infinity); // never full counts as the slowest
  const single = times(res.filter((r) => r.size === 1));
  const team = times(res.filter((r) => r.size > 1));
  const s50 = pct(single, 0.5);
  const t50 = pct(team, 0.5);
  const f = (xs: number[]) => `n=${xs.length} p50 ${round(pct(xs, 0.5), 1)} / p90 ${round(pct(xs, 0.9), 1)} ms`;
  const bySize = [...new Set(res.map((r) => r.size))].sort((a, b) => a - b)
    .map((k) => `${k} hero${k > 1 ? 'es' : ''} ${f(times(res.filter((r) => r.size === k)))}`).join('; ');
  const bySeverity = SEVERITIES.map((sev) => `${sev} ${round(pct(times(res.filter((r) => r.size > 1 && r.severity === sev)), 0.5), 1)}`).join(', ');
  const never = res.filter((r) => r.fullMs === null).length;
  note(`team report → full: ${ASSEMBLE_HEROES} heroes within 1 km accepting every offer at once; ${bySize}; teams p50 by severity (ms) ${bySeverity}; `
    + `${never} rounds not full within 10 s (counted as ∞). Full = the accept filling the last slot answered ok, on the heroes' clock.`);
  return [
    metric('report_to_assigned_p50_ms', round(s50, 1), 'ms', null, '— (one hero, same harness)', null),
    metric('team_report_to_full_p50_ms', round(t50, 1), 'ms', null, `≤ 2× one hero (${round(2 * s50, 1)})`, t50 <= 2 * s50),
  ];
}

export async function teams(o: Opts): Promise<Metric[]> {
  return [...await teamRace(o), ...await reportToFull(o)];
}
