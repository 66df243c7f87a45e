// One hero: a socket on /hero, a position moving through the city, and the habits of
// a person answering offers. Ground heroes drive the street grid, air heroes fly
// straight. On accept they report en_route, drive to the scene, report on_scene, do a
// rescue and report resolved; now and then one vanishes mid-rescue for good. A team
// member does the same on their own: their progress is theirs, not the incident's.
// With a personality (personality.ts) a hero answers, thinks and moves its own way, from
// its own seeded stream, and records each offer and arrival for the ranking section.
import type { Socket } from 'socket.io-client';
import { etaMinutes } from '../../server/geo/matcher.ts';
import { openSocket } from '../lib/wire.ts';
import type { SimOptions } from './args.ts';
import { Mover, type City } from './city.ts';
import { answerOf, type Personality } from './personality.ts';
import type { OfferOutcome } from './ranking-stats.ts';
import type { Rng } from './rng.ts';
import type { Stats } from './stats.ts';
import { sleep, type Ack, type HeroSession, type Incident, type MemberProgress, type Offer } from './types.ts';

export type Mode = 'ground' | 'air';
type Phase = 'patrol' | 'en_route' | 'on_scene' | 'vanished' | 'stopped';
type Progress = 'en_route' | 'on_scene' | 'resolved';

/** km/h of simulated time: patrolling, and driving or flying to a scene. */
const SPEED: Record<Mode, { patrol: number; rush: number }> = { ground: { patrol: 25, rush: 40 }, air: { patrol: 60, rush: 120 } };
const ACK_TIMEOUT_MS = 8_000;

export interface HeroDeps { url: string; city: City; rng: Rng; stats: Stats; opts: SimOptions }

/** A hero of a seeded plan: its index, personality (null: answers by --accept/--decline/--ignore) and own stream. */
export interface HeroOwn { index: number; personality: Personality | null; rng: Rng }

/** The server's word on an offer (an ack's reason, or `offer:withdrawn`'s) as an outcome. */
export function outcomeOf(reason: string): OfferOutcome {
  if (reason === 'taken' || reason === 'expired') return reason;
  if (reason === 'withdrawn' || reason === 'cancelled') return 'withdrawn';
  return 'other';
}

export class Hero {
  phase: Phase = 'patrol';
  onDuty = false;
  incidentId: string | null = null;
  readonly mover: Mover;
  private dir: number;
  private socket: Socket | null = null;
  private readonly offers = new Map<string, { timer: NodeJS.Timeout | null }>();
  private readonly seenOffers = new Set<string>();
  private pingTimer: NodeJS.Timeout | null = null;
  private rescueTimer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** The offer that gave us the incident we hold: accept → arrival is timed against its ETA. */
  private via: { offerId: string; incidentId: string; assignedAt: number; physicsEtaS: number } | null = null;

  constructor(readonly id: string, readonly name: string, readonly mode: Mode, readonly skills: readonly string[], private readonly token: string, private readonly d: HeroDeps,
    readonly own: HeroOwn | null = null) {
    const rng = own?.rng ?? d.rng;
    this.mover = new Mover(mode === 'air' ? d.city.randomPoint(rng) : d.city.randomIntersection(rng));
    this.dir = rng.int(0, 3);
  }

  get personality(): Personality | null {
    return this.own?.personality ?? null;
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  /**
   * Free as far as we know: on duty, patrolling, reading no offer. An ignored offer stays
   * pending on the server until it expires, which this does not see.
   */
  get free(): boolean {
    return this.onDuty && this.connected && this.phase === 'patrol' && this.incidentId === null && this.offers.size === 0;
  }

  connect(): void {
    const s = openSocket(`${this.d.url}/hero`, { token: this.token });
    this.socket = s;
    s.on('connect', () => {
      this.ping();
      this.schedulePing();
    });
    s.on('disconnect', (reason) => {
      this.onDuty = false;
      if (this.phase !== 'vanished' && this.phase !== 'stopped') {
        this.d.stats.heroes.disconnects += 1;
        this.d.stats.note('hero socket disconnected', `${this.id}: ${reason}`);
        // The server closed it (draining): come back, as a real app would.
        if (reason === 'io server disconnect') setTimeout(() => !this.gone() && s.connect(), 1_000);
      }
    });
    s.on('connect_error', (err: Error) => {
      if (err.message === 'unauthorized' || err.message === 'forbidden') {
        this.d.stats.heroes.authErrors += 1;
        this.d.stats.note('hero refused at connect', `${this.id}: ${err.message}`);
      }
    });
    s.on('session', (session: HeroSession) => this.onSession(session));
    s.on('offer', (offer: Offer, ack?: (x: unknown) => void) => {
      if (typeof ack === 'function') ack({ ok: true });
      this.onOffer(offer);
    });
    s.on('offer:withdrawn', ({ offerId, reason }: { offerId: string; reason: string }) => {
      this.d.stats.offerEnded(offerId, outcomeOf(reason));
      const entry = this.offers.get(offerId);
      if (!entry) return;
      if (entry.timer) clearTimeout(entry.timer);
      this.offers.delete(offerId);
      this.d.stats.offerRefused(reason, this.id);
    });
    s.on('assignment:released', ({ incidentId, reason }: { incidentId: string; reason: string }) => {
      if (incidentId !== this.incidentId) return;
      this.d.stats.heroes.released += 1;
      this.d.stats.note('assignment released', `${this.id} from ${incidentId}: ${reason}`);
      this.backToPatrol();
    });
  }

  /** Advances the hero by `hours` of simulated time. */
  tick(hours: number): void {
    const { mover, city, rng } = this;
    // A slow driver really moves slower than its mode; the server's ETA does not know.
    const factor = this.own?.personality?.speed ?? 1;
    if (this.phase === 'patrol') {
      if (mover.advance(hours, SPEED[this.mode].patrol * factor)) {
        if (this.mode === 'air') mover.waypoints = [city.randomPoint(rng)];
        else {
          const leg = city.patrolLeg(mover.pos, this.dir, rng);
          this.dir = leg.dir;
          mover.waypoints = [leg.to];
        }
      }
    } else if (this.phase === 'en_route') {
      if (mover.advance(hours, SPEED[this.mode].rush * factor)) this.arrive();
    } else {
      mover.kmh = 0;
    }
  }

  /** Goes off duty when free, then closes the socket for good. */
  async stop(): Promise<void> {
    const wasActive = this.phase !== 'vanished';
    this.phase = 'stopped';
    this.clearTimers();
    if (wasActive && this.connected && !this.incidentId) {
      await this.socket?.timeout(3_000).emitWithAck('duty', { onDuty: false }).catch(() => null);
    }
    this.socket?.disconnect();
  }

  private get city(): City { return this.d.city; }
  private get rng(): Rng { return this.own?.rng ?? this.d.rng; }

  private onSession(session: HeroSession): void {
    if (this.gone()) return;
    this.d.stats.heroes.sessions += 1;
    if (session.onDuty) this.onDuty = true;
    else {
      void this.call('duty', { onDuty: true }, 3).then((a) => {
        if (!a?.ok) return this.d.stats.note('could not go on duty', `${this.id}: ${a && !a.ok ? a.reason : 'no answer'}`);
        this.onDuty = true;
        this.ping(); // the app shares its position as it goes on duty
      });
    }
    const a = session.assignment;
    if (a && a.incidentId !== this.incidentId) {
      this.d.stats.heroes.adopted += 1;
      this.startAssignment(a.incident);
    } else if (!a && this.incidentId) {
      // The server says we hold nothing (released while we were away).
      this.d.stats.heroes.released += 1;
      this.backToPatrol();
    }
    for (const o of session.offers) this.onOffer(o);
  }

  private onOffer(offer: Offer): void {
    const { stats, opts } = this.d;
    if (this.seenOffers.has(offer.offerId) || this.gone()) return;
    this.seenOffers.add(offer.offerId);
    stats.offers.received += 1;
    const personality = this.personality;
    stats.offerLog.set(offer.offerId, {
      offerId: offer.offerId, incidentId: offer.incident.id, heroId: this.id, personality: personality?.kind ?? null,
      mode: this.mode, distanceKm: offer.distanceKm, at: performance.now(), answer: null, outcome: null, acceptedAt: null,
    });
    stats.mark(stats.firstOffer, offer.incident.id);
    // The server offers a slot only to a hero who has its skill.
    if (opts.teams > 0 && typeof offer.skill === 'string' && !this.skills.includes(offer.skill)) {
      stats.offers.misfit += 1;
      stats.note('offer for a skill the hero lacks', `${this.id} (${this.skills.join(', ')}) offered slot ${offer.slot} (${offer.skill}) of ${offer.incident.id}`);
    }
    // A person reads it, thinks, and taps (or puts the phone away). A personality decides
    // both at once; without one, the delay now and the choice when it is up (as always).
    const planned = personality ? answerOf(personality, this.rng) : null;
    const entry: { timer: NodeJS.Timeout | null } = { timer: null };
    this.offers.set(offer.offerId, entry);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      const roll = planned ? 0 : this.rng.next();
      const legacy = this.incidentId ? 'decline' : roll < opts.accept ? 'accept' : roll < opts.accept + opts.decline ? 'decline' : 'ignore';
      const choice = !planned ? legacy : this.incidentId && planned.choice === 'accept' ? 'decline' : planned.choice;
      void this.answer(offer, choice);
    }, planned ? planned.delayMs : this.rng.range(500, 4_000));
  }

  private async answer(offer: Offer, choice: 'accept' | 'decline' | 'ignore'): Promise<void> {
    const { stats } = this.d;
    const record = stats.offerLog.get(offer.offerId);
    if (record) record.answer = choice;
    if (choice === 'ignore') {
      stats.offers.ignored += 1;
      this.offers.delete(offer.offerId);
      return;
    }
    const ack = await this.call(`offer:${choice}`, { offerId: offer.offerId }, choice === 'accept' ? 3 : 2);
    if (!this.offers.delete(offer.offerId) && !ack?.ok) return; // withdrawn meanwhile, already counted
    if (!ack) {
      stats.offers.noAnswer += 1;
      stats.offerEnded(offer.offerId, 'no_answer');
      stats.note(`offer:${choice} not answered`, `${this.id} offer ${offer.offerId}`);
    } else if (!ack.ok) {
      this.d.stats.offerRefused(ack.reason, this.id);
      stats.offerEnded(offer.offerId, outcomeOf(ack.reason));
    } else if (choice === 'decline') {
      stats.offers.declined += 1;
      stats.offerEnded(offer.offerId, 'declined');
    } else {
      stats.offers.accepted += 1;
      const at = performance.now();
      stats.offerEnded(offer.offerId, 'accepted', at);
      this.startAssignment(offer.incident);
      if (this.incidentId === offer.incident.id) {
        this.via = { offerId: offer.offerId, incidentId: offer.incident.id, assignedAt: at, physicsEtaS: etaMinutes({ distanceKm: offer.distanceKm, mode: this.mode }) * 60 };
      }
    }
  }

  private startAssignment(incident: Incident): void {
    if (this.gone() || this.incidentId === incident.id) return;
    this.clearRescue();
    this.incidentId = incident.id;
    const scene = this.city.toPt(incident.location);
    const mine = this.ownProgress(incident);
    if (mine === 'on_scene') {
      this.phase = 'on_scene';
      this.mover.waypoints = [];
      this.startRescue();
      return;
    }
    this.phase = 'en_route';
    this.mover.waypoints = this.mode === 'air' ? [scene] : this.city.groundRoute(this.mover.pos, scene);
    if (mine !== 'en_route') this.progress('en_route');
  }

  /**
   * Where this hero stands on the incident: their own assignment's progress (v1.1), the
   * incident's state on a server without it, `assigned` when the view predates our accept.
   */
  private ownProgress(incident: Incident): MemberProgress | string {
    const own = (incident.assignments ?? []).find((a) => a.heroId === this.id && a.state === 'active');
    if (!own) return 'assigned';
    return own.progress ?? incident.state;
  }

  private arrive(): void {
    const via = this.via;
    if (via && via.incidentId === this.incidentId) {
      this.d.stats.arrivals.push({
        offerId: via.offerId, incidentId: via.incidentId, heroId: this.id, personality: this.personality?.kind ?? null, mode: this.mode,
        assignedAt: via.assignedAt, arrivedAt: performance.now(), physicsEtaS: via.physicsEtaS,
      });
    }
    this.via = null;
    this.phase = 'on_scene';
    this.progress('on_scene');
    this.startRescue();
  }

  private startRescue(): void {
    const { opts } = this.d;
    const ms = this.rng.range(10_000, 60_000) / opts.speedup;
    if (this.rng.chance(opts.vanish)) {
      this.rescueTimer = setTimeout(() => this.vanish(), ms * this.rng.range(0.1, 0.9));
    } else {
      this.rescueTimer = setTimeout(() => { this.rescueTimer = null; this.progress('resolved'); }, ms);
    }
  }

  /** Reports progress in order; a refusal that says we lost the incident sends us back on patrol. */
  private progress(state: Progress): void {
    const incidentId = this.incidentId;
    if (!incidentId) return;
    const { stats } = this.d;
    this.chain = this.chain.then(async () => {
      if (this.incidentId !== incidentId || this.gone()) return;
      const ack = await this.call('incident:progress', { incidentId, state }, 3);
      if (this.incidentId !== incidentId || this.gone()) return;
      if (!ack) {
        stats.progress.noAnswer += 1;
        stats.note('progress not answered', `${this.id} ${incidentId} ${state}`);
        if (state === 'resolved') this.backToPatrol(); // the next session tells the truth
      } else if (ack.ok) {
        stats.progress[state] += 1;
        if (state === 'resolved') this.backToPatrol();
      } else {
        stats.progress.refused += 1;
        stats.note('progress refused', `${this.id} ${incidentId} ${state}: ${ack.reason}`);
        if (ack.reason === 'released' || ack.reason === 'not_found' || state === 'resolved') this.backToPatrol();
      }
    });
  }

  private vanish(): void {
    const { stats } = this.d;
    this.phase = 'vanished';
    stats.heroes.vanished += 1;
    if (this.incidentId) stats.vanishedHolding.set(this.incidentId, this.id);
    this.clearTimers();
    this.socket?.disconnect();
  }

  private backToPatrol(): void {
    this.clearRescue();
    this.incidentId = null;
    this.via = null;
    if (this.gone()) return;
    this.phase = 'patrol';
    // Ground heroes walk back to the nearest corner before patrolling again.
    this.mover.waypoints = this.mode === 'air' ? [] : [{ x: this.city.snap(this.mover.pos.x), y: this.city.snap(this.mover.pos.y) }];
  }

  private ping(): void {
    if (!this.socket?.connected || this.gone()) return;
    const { lat, lng } = this.city.toLatLng(this.mover.pos);
    const mps = (this.mover.kmh * this.d.opts.speedup) / 3.6;
    this.socket.emit('location', {
      lat, lng, at: Date.now(), accuracy: Math.round(this.rng.range(3, 25)),
      heading: Math.round(this.mover.headingDeg) % 360, speed: Math.min(999, Math.round(mps * 10) / 10),
    });
    this.d.stats.heroes.pings += 1;
  }

  private schedulePing(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      this.pingTimer = null;
      if (this.gone()) return;
      this.ping();
      this.schedulePing();
    }, this.rng.range(5_000, 15_000));
  }

  /** An acked emit with a deadline, repeated on silence (accept and progress are safe to repeat). */
  private async call(event: string, payload: unknown, attempts: number): Promise<Ack | null> {
    for (let i = 0; i < attempts; i++) {
      if (!this.socket || this.gone()) return null;
      try {
        return (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as Ack;
      } catch {
        await sleep(500);
      }
    }
    return null;
  }

  /** Vanished or stopped: no more talking to the server. */
  private gone(): boolean {
    return this.phase === 'vanished' || this.phase === 'stopped';
  }

  private clearRescue(): void {
    if (this.rescueTimer) clearTimeout(this.rescueTimer);
    this.rescueTimer = null;
  }

  private clearTimers(): void {
    this.clearRescue();
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = null;
    for (const e of this.offers.values()) if (e.timer) clearTimeout(e.timer);
    this.offers.clear();
  }
}
