// Civilians in trouble: reports arrive as a Poisson stream at --rate, with a realistic
// mix of kinds and severities, about half of them around the city's hot spots. Every
// report has its own Idempotency-Key and keeps it on every retry; a few are sent twice
// on purpose (a double tap) to check the replay answers the same incident. With
// `--teams P`, that share of reports asks for a team (teams.ts) in `needs`. With a stream
// of their own (`retries` given), every draw of the schedule happens before the first
// await, and retries jitter from the other stream: the same seed reports the same
// emergencies at the same moments, however the server answers.
import { randomUUID } from 'node:crypto';
import type { City } from './city.ts';
import { problem } from '../lib/wire.ts';
import { http, withRetry } from './http.ts';
import type { Rng } from './rng.ts';
import type { Stats } from './stats.ts';
import { pickTeam, TEAM_SEVERITY, teamSize } from './teams.ts';
import { sleep, type Incident, type Severity } from './types.ts';
import { fingerprint } from './fingerprint.ts';
import { Sleeper } from './sleeper.ts';

export const KINDS = { accident: 30, crime: 25, medical: 25, fire: 10, disaster: 3, other: 7 } as const;
const SEVERITY: Record<Severity, number> = { critical: 5, high: 20, medium: 45, low: 30 };
const DOUBLE_TAP = 0.03;

export const WHAT: Record<keyof typeof KINDS, string[]> = {
  accident: ['Two cars collided at the junction', 'Cyclist hit by a van', 'Bus slid into a lamppost', 'Crane tipped over on a building site'],
  crime: ['Armed robbery at a corner shop', 'Someone is breaking into cars', 'Bank alarm going off, masked people inside', 'Mugging in progress'],
  medical: ['Man collapsed on the platform', 'Child not breathing', 'Elderly woman fell down the stairs', 'Allergic reaction, throat swelling'],
  fire: ['Smoke pouring out of a third-floor window', 'Kitchen fire spreading', 'Car on fire in a garage', 'Warehouse roof burning'],
  disaster: ['Building partly collapsed', 'Flooding in the underpass, people trapped', 'Gas leak, whole block smells', 'Sinkhole swallowed part of the street'],
  other: ['Cat stuck on a billboard', 'Giant robot wandering downtown', 'Strange lights over the river', 'Lost tourist on a rooftop'],
};

export interface CivilianDeps {
  url: string;
  ratePerMin: number;
  city: City;
  rng: Rng;
  stats: Stats;
  runId: string;
  /** Share of reports that need a team (0: none, and no random draw is spent on it). */
  teams: number;
  signCivilian: (id: string) => Promise<string>;
  /**
   * The stream for retries' back-off and double taps' pauses, when `rng` is the
   * civilians' own (the schedule); without it both come from `rng`, as they always did.
   */
  retries?: Rng;
}

export class Civilians {
  private running = false;
  private readonly inflight = new Set<Promise<void>>();
  private readonly tokens = new Map<string, Promise<string>>();
  private giveUpAt = Number.POSITIVE_INFINITY;
  private n = 0;
  private readonly sleeper = new Sleeper();
  /** Civilians are drawn from a pool large enough that none comes near a per-civilian limit. */
  private readonly poolSize: number;

  constructor(private readonly d: CivilianDeps) {
    this.poolSize = Math.max(200, Math.ceil(d.ratePerMin * 4));
  }

  start(): void {
    this.running = true;
    void this.loop();
  }

  /** No new reports; retries of the ones in flight may go on until `graceMs` from now. */
  stop(graceMs: number): void {
    this.running = false;
    this.giveUpAt = performance.now() + graceMs;
    this.sleeper.wake();
  }

  async drain(): Promise<void> {
    while (this.inflight.size) await Promise.race(this.inflight);
  }

  private async loop(): Promise<void> {
    const meanGapMs = 60_000 / this.d.ratePerMin;
    let due = performance.now();
    while (this.running) {
      due += this.d.rng.exp(meanGapMs);
      await this.sleeper.until(due);
      if (!this.running) break;
      const p = this.report(this.n++).catch((e: unknown) => this.d.stats.note('report crashed', String(e)));
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  private token(civ: string): Promise<string> {
    let t = this.tokens.get(civ);
    if (!t) {
      t = this.d.signCivilian(civ);
      this.tokens.set(civ, t);
    }
    return t;
  }

  private async report(n: number): Promise<void> {
    const { rng, stats, city } = this.d;
    const civ = `sim-${this.d.runId}-civ-${rng.int(0, this.poolSize - 1)}`;
    // `--teams 0` draws exactly what it drew before teams existed, so a seed repeats a run.
    const team = this.d.teams > 0 && rng.chance(this.d.teams) ? pickTeam(rng) : null;
    const kind = team ? team.kind : rng.weighted(KINDS);
    const severity = rng.weighted(team ? TEAM_SEVERITY : SEVERITY);
    const { p, hotspot } = city.incidentPoint(rng);
    const body = {
      kind, severity, location: city.toLatLng(p),
      description: `${rng.pick(team ? team.what : WHAT[kind])}${hotspot ? ` near ${hotspot}` : ''} (sim report ${n})`,
      ...(team ? { needs: team.needs } : {}),
    };
    if (team) stats.teamSent(teamSize({ needs: team.needs }));
    const key = randomUUID();
    const early = this.d.retries ? rng.chance(DOUBLE_TAP) : null;
    stats.schedule.push(fingerprint([civ.slice(civ.lastIndexOf('-') + 1), body, early]));
    const token = await this.token(civ);
    const doubleTap = early ?? rng.chance(DOUBLE_TAP);
    const jitter = this.d.retries ?? rng;
    const t0 = performance.now();
    stats.reports.sent += 1;
    stats.reports.inflight += 1;
    let attempts = 0;
    try {
      const send = () => {
        if (attempts++ > 0) stats.reports.retries += 1;
        return http('POST', `${this.d.url}/v1/incidents`, { token, body, headers: { 'idempotency-key': key }, timeoutMs: 10_000 });
      };
      const res = await withRetry(send, {
        rng: jitter, maxAttempts: 10, giveUpAt: () => this.giveUpAt,
        onFailure: (k, detail) => {
          if (k === 'throttled') stats.reports.throttled += 1;
          else if (k === 'server') {
            stats.reports.serverErrors += 1;
            if (detail.startsWith('HTTP 503')) stats.reports.overloaded += 1;
          }
          else stats.reports.networkErrors += 1;
          stats.note(`report attempt failed (${k})`, detail);
        },
      });
      if (!res) {
        stats.reports.unanswered += 1;
        stats.note('report never answered', `key ${key}`);
        return;
      }
      const incident = res.body as Incident | null;
      if ((res.status !== 201 && res.status !== 200) || !incident || typeof incident.id !== 'string') {
        stats.reports.refused += 1;
        stats.note('report refused', `HTTP ${res.status} ${problem(res.body)}`);
        return;
      }
      if (res.status === 201) stats.reports.created += 1;
      else stats.reports.replayed += 1;
      if (attempts > 1) stats.reports.answeredAfterRetry += 1;
      stats.reportMs.push(res.ms);
      stats.noteReported(incident.id, { t0, severity, kind, hotspot, size: teamSize(incident) });
      if (doubleTap) await this.replay(token, key, body, incident.id);
    } finally {
      stats.reports.inflight -= 1;
    }
  }

  /** The civilian taps "send" again: same key, same body, must be the same incident. */
  private async replay(token: string, key: string, body: unknown, id: string): Promise<void> {
    const { stats } = this.d;
    const rng = this.d.retries ?? this.d.rng;
    await sleep(rng.range(100, 1500));
    const res = await withRetry(
      () => http('POST', `${this.d.url}/v1/incidents`, { token, body, headers: { 'idempotency-key': key }, timeoutMs: 10_000 }),
      { rng, maxAttempts: 5, giveUpAt: () => this.giveUpAt },
    );
    if (!res) return;
    stats.reports.doubleTaps += 1;
    const got = (res.body as { id?: unknown } | null)?.id;
    if ((res.status !== 200 && res.status !== 201) || got !== id) {
      stats.reports.doubleTapMismatch += 1;
      stats.note('replay answered differently', `key ${key}: HTTP ${res.status} id ${String(got)} (expected ${id})`);
    }
  }
}
