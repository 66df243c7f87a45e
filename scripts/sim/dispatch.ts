// A dispatcher console without a screen: a socket on /dispatch that follows every
// incident (`snapshot`, then `incident` after each change). It times the moment each
// incident reaches `assigned`, and checks each incident it sees never has more active
// assignments than slots, nor two in one slot. With teams it also times the first member,
// and checks an incident shown `assigned` or later has every slot filled.
import type { Socket } from 'socket.io-client';
import { openSocket } from '../lib/wire.ts';
import type { Stats } from './stats.ts';
import { filledSlots, teamSize } from './teams.ts';
import { ASSIGNED_OR_LATER, type Incident } from './types.ts';

interface View { state: string; version: number }

export class DispatchObserver {
  readonly views = new Map<string, View>();
  readonly alerts = new Map<string, number>();
  /** Incidents seen with more active assignments than their needs allow. */
  readonly overfilled = new Set<string>();
  events = 0;
  disconnects = 0;
  private socket: Socket | null = null;

  constructor(private readonly url: string, private readonly token: string, private readonly stats: Stats, private readonly teams = false) {}

  /** Connects and waits for the first snapshot (or fails after `timeoutMs`). */
  start(timeoutMs = 15_000): Promise<void> {
    const s = openSocket(`${this.url}/dispatch`, { token: this.token });
    this.socket = s;
    s.on('incident', (inc: Incident) => { this.events += 1; this.apply(inc); });
    s.on('alert', (a: { type: string; incidentId?: string; detail?: string }) => {
      this.alerts.set(a.type, (this.alerts.get(a.type) ?? 0) + 1);
    });
    s.on('disconnect', (reason) => {
      if (!this.socket) return; // we closed it
      this.disconnects += 1;
      this.stats.note('dispatcher socket disconnected', reason);
      if (reason === 'io server disconnect') setTimeout(() => this.socket && s.connect(), 1_000);
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no snapshot on /dispatch within ${timeoutMs} ms`)), timeoutMs);
      s.on('connect_error', (err: Error) => {
        if (err.message === 'unauthorized' || err.message === 'forbidden') {
          clearTimeout(timer);
          reject(new Error(`/dispatch refused the dispatcher token: ${err.message} (wrong --secret?)`));
        }
      });
      s.on('snapshot', (snap: { incidents?: Incident[] }) => {
        for (const inc of snap.incidents ?? []) this.apply(inc);
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stateOf(id: string): string | undefined {
    return this.views.get(id)?.state;
  }

  /** Our incidents by the state this console last saw (not yet seen counts as `reported`). */
  countStates(ids: Iterable<string>): Map<string, number> {
    const m = new Map<string, number>();
    for (const k of ['reported', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved', 'escalated', 'cancelled']) m.set(k, 0);
    for (const id of ids) {
      const st = this.views.get(id)?.state ?? 'reported';
      m.set(st, (m.get(st) ?? 0) + 1);
    }
    return m;
  }

  close(): void {
    const s = this.socket;
    this.socket = null;
    s?.disconnect();
  }

  private apply(inc: Incident): void {
    if (!inc || typeof inc.id !== 'string') return;
    const now = performance.now();
    // Milestones count the first time they are seen, whatever order events arrive in.
    if (ASSIGNED_OR_LATER.has(inc.state)) this.stats.mark(this.stats.assigned, inc.id, now);
    if (inc.state === 'resolved') this.stats.mark(this.stats.resolved, inc.id, now);
    const active = (inc.assignments ?? []).filter((a) => a.state === 'active');
    if (this.teams) this.checkTeam(inc, active.length, now);
    const slots = (inc.needs ?? []).reduce((n, need) => n + need.count, 0) || 1;
    const slotted = active.filter((a) => a.slot !== undefined);
    const twoInASlot = new Set(slotted.map((a) => a.slot)).size < slotted.length;
    if (active.length > slots || twoInASlot || new Set(active.map((a) => a.heroId)).size < active.length) {
      if (!this.overfilled.has(inc.id)) {
        this.stats.note('over-filled incident seen on /dispatch', `${inc.id} v${inc.version}: ${active.map((a) => (a.slot === undefined ? a.heroId : `${a.heroId} in slot ${a.slot}`)).join(', ')} for ${slots} slot(s)`);
      }
      this.overfilled.add(inc.id);
    }
    const prev = this.views.get(inc.id);
    if (prev && prev.version >= inc.version) return;
    this.views.set(inc.id, { state: inc.state, version: inc.version });
  }

  /** The first member, and whether a team shown `assigned` or later really has every slot. */
  private checkTeam(inc: Incident, active: number, now: number): void {
    if (active > 0 || (inc.assignments ?? []).some((a) => a.state === 'completed')) this.stats.mark(this.stats.firstMember, inc.id, now);
    if (!ASSIGNED_OR_LATER.has(inc.state)) return;
    const size = teamSize(inc);
    const filled = filledSlots(inc);
    if (filled < size && !this.stats.underfilled.has(inc.id)) {
      this.stats.underfilled.add(inc.id);
      this.stats.note('incident shown assigned with a slot open', `${inc.id} v${inc.version} ${inc.state}: ${filled} of ${size} slot(s) filled`);
    }
  }
}
