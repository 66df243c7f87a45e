// Counters, latencies and the live one-line summary.
import { pct, summary } from '../lib/stats.ts';
import type { ArrivalRecord, OfferOutcome, OfferRecord } from './ranking-stats.ts';
import { SEVERITIES } from './types.ts';

/** A moment in an incident's life (first offer, assigned, resolved), timed from its report. */
export class Milestone {
  readonly seen = new Map<string, number>();
  readonly samples: number[] = [];
  readonly bySeverity = new Map<string, number[]>();
  /** By how many heroes the incident needs (1 for a single hero). */
  readonly bySize = new Map<number, number[]>();
}

export interface ReportInfo { t0: number; severity: string; kind: string; hotspot: string | null; size?: number }

export class Stats {
  /** The clock of the summary: from the first report on (setup is not counted). */
  private startedAt = performance.now();
  readonly createdAt = performance.now();
  reports = {
    sent: 0, created: 0, replayed: 0, retries: 0, throttled: 0, serverErrors: 0, networkErrors: 0,
    refused: 0, unanswered: 0, inflight: 0, doubleTaps: 0, doubleTapMismatch: 0,
    /** Attempts answered 503 (overload, retried), a part of serverErrors. */
    overloaded: 0,
    /** Reports answered 2xx only after at least one failed attempt (503, 429, 5xx, network). */
    answeredAfterRetry: 0,
  };
  /** Latency of the answered attempt of each report. */
  readonly reportMs: number[] = [];
  offers = { received: 0, accepted: 0, declined: 0, ignored: 0, taken: 0, expired: 0, withdrawn: 0, other: 0, noAnswer: 0, misfit: 0 };
  progress = { en_route: 0, on_scene: 0, resolved: 0, refused: 0, noAnswer: 0 };
  heroes = { registered: 0, vanished: 0, disconnects: 0, sessions: 0, adopted: 0, released: 0, authErrors: 0, pings: 0 };
  /** Incidents answered 2xx, by id. */
  readonly reported = new Map<string, ReportInfo>();
  readonly firstOffer = new Milestone();
  readonly assigned = new Milestone();
  readonly resolved = new Milestone();
  /** Teams: the first member assigned (every slot filled is `assigned`). */
  readonly firstMember = new Milestone();
  /** Team reports sent, by the number of heroes asked for. */
  readonly teamsSent = new Map<number, number>();
  /** Incidents seen `assigned` or later on /dispatch with a slot still open. */
  readonly underfilled = new Set<string>();
  /** Incidents whose hero vanished mid-rescue: incident id → hero id. */
  readonly vanishedHolding = new Map<string, string>();
  /** Invariant scans through GET /v1/incidents during the run. */
  scans = { runs: 0, failed: 0, truncated: 0, violations: [] as string[] };
  /** First few messages per kind of trouble, for the final report. */
  readonly notes = new Map<string, { count: number; examples: string[] }>();
  /** Every offer a hero received, by offer id, and how it ended (the ranking section). */
  readonly offerLog = new Map<string, OfferRecord>();
  /** Accept → on the scene of every hero that got there from an offer. */
  readonly arrivals: ArrivalRecord[] = [];
  /** The ranking section counts incidents reported from here on (after `--warmup`). */
  measureFrom = 0;
  /** One fingerprint per report, in the order the civilians drew them (fingerprint.ts). */
  readonly schedule: string[] = [];

  /** The server's last word on an offer; a later word does not replace an accept. */
  offerEnded(offerId: string, outcome: OfferOutcome, at = performance.now()): void {
    const r = this.offerLog.get(offerId);
    if (!r || r.outcome === 'accepted') return;
    r.outcome = outcome;
    if (outcome === 'accepted') r.acceptedAt = at;
  }

  note(kind: string, example: string): void {
    const n = this.notes.get(kind) ?? { count: 0, examples: [] };
    n.count += 1;
    if (n.examples.length < 3) n.examples.push(example);
    this.notes.set(kind, n);
  }

  /** An offer that ended without the hero's answer counting (withdrawn, or refused at answer time). */
  offerRefused(reason: string, heroId: string): void {
    const o = this.offers;
    if (reason === 'taken') o.taken += 1;
    else if (reason === 'expired') o.expired += 1;
    else if (reason === 'withdrawn' || reason === 'cancelled') o.withdrawn += 1;
    else {
      o.other += 1;
      this.note('offer refused', `${heroId}: ${reason}`);
    }
  }

  noteReported(id: string, info: ReportInfo): void {
    if (this.reported.has(id)) return;
    this.reported.set(id, info);
    for (const m of [this.firstOffer, this.assigned, this.resolved, this.firstMember]) {
      const at = m.seen.get(id);
      if (at !== undefined) this.addSample(m, info, at);
    }
  }

  mark(m: Milestone, id: string, at = performance.now()): void {
    if (m.seen.has(id)) return;
    m.seen.set(id, at);
    const info = this.reported.get(id);
    if (info) this.addSample(m, info, at);
  }

  private addSample(m: Milestone, info: ReportInfo, at: number): void {
    const d = Math.max(0, at - info.t0);
    m.samples.push(d);
    const list = m.bySeverity.get(info.severity) ?? [];
    list.push(d);
    m.bySeverity.set(info.severity, list);
    const size = info.size ?? 1;
    const bySize = m.bySize.get(size) ?? [];
    bySize.push(d);
    m.bySize.set(size, bySize);
  }

  teamSent(size: number): void {
    this.teamsSent.set(size, (this.teamsSent.get(size) ?? 0) + 1);
  }

  /** Our incidents (answered 2xx) by how many heroes they need. */
  reportedBySize(): Map<number, number> {
    const m = new Map<number, number>();
    for (const r of this.reported.values()) m.set(r.size ?? 1, (m.get(r.size ?? 1) ?? 0) + 1);
    return m;
  }

  begin(): void {
    this.startedAt = performance.now();
  }

  elapsedS(): number {
    return (performance.now() - this.startedAt) / 1000;
  }
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

export function clock(s: number): string {
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

const SHORT: Record<string, string> = {
  reported: 'rep', dispatching: 'disp', assigned: 'asg', en_route: 'enr', on_scene: 'scene',
  resolved: 'res', escalated: 'esc', cancelled: 'cxl',
};

export interface LiveView { states: Map<string, number>; onDuty: number; heroes: number; phase: string }

export function summaryLine(s: Stats, v: LiveView, maxWidth = Number.POSITIVE_INFINITY): string {
  const r = s.reports;
  const states = [...v.states].filter(([, n]) => n > 0).map(([k, n]) => `${SHORT[k] ?? k} ${n}`).join(' ') || 'no incidents';
  const o = s.offers;
  const a = s.assigned.samples;
  const p50 = fmtMs(pct(a, 0.5));
  const p95 = fmtMs(pct(a, 0.95));
  const failed = r.refused + r.unanswered;
  const head = `[${clock(s.elapsedS())}${v.phase ? ` ${v.phase}` : ''}]`;
  const full = [
    head,
    `reports ${r.created + r.replayed}/${r.sent}${r.inflight ? ` (+${r.inflight} in flight)` : ''}${r.retries ? ` retries ${r.retries}` : ''}${failed ? ` failed ${failed}` : ''}`,
    `| ${states}`,
    `| assign p50 ${p50} p95 ${p95}`,
    `| offers acc ${o.accepted} dec ${o.declined} ign ${o.ignored} taken ${o.taken} exp ${o.expired}${o.withdrawn + o.other ? ` other ${o.withdrawn + o.other}` : ''}`,
    `| heroes on duty ${v.onDuty}/${v.heroes} vanished ${s.heroes.vanished}`,
  ].join(' ');
  if (full.length <= maxWidth) return full;
  // Narrow terminal: the same numbers, terser.
  return [
    head,
    `rep ${r.created + r.replayed}/${r.sent}${failed ? ` !${failed}` : ''}`,
    `| ${states}`,
    `| asg ${p50}/${p95}`,
    `| a${o.accepted} d${o.declined} i${o.ignored} t${o.taken} x${o.expired}`,
    `| duty ${v.onDuty}/${v.heroes} vanished ${s.heroes.vanished}`,
  ].join(' ');
}

/** Writes the summary in place on a TTY, as plain lines otherwise. */
export class StatusLine {
  private readonly tty = Boolean(process.stdout.isTTY);
  private dirty = false;

  /** Room for the live line: the terminal's width, unbounded when not a TTY. */
  get width(): number {
    return this.tty ? (process.stdout.columns || 160) - 2 : Number.POSITIVE_INFINITY;
  }

  show(line: string): void {
    if (this.tty) {
      const cols = process.stdout.columns || 160;
      process.stdout.write(`\r${line.length >= cols ? `${line.slice(0, cols - 2)}…` : line}\x1b[K`);
      this.dirty = true;
    } else {
      process.stdout.write(`${line}\n`);
    }
  }

  /** Ends the live line so other output starts on a fresh one. */
  end(): void {
    if (this.dirty) process.stdout.write('\n');
    this.dirty = false;
  }

  /** Prints a message above the live line. */
  log(msg: string): void {
    this.end();
    process.stdout.write(`${msg}\n`);
  }
}

export function severityTable(m: Milestone): string[] {
  return SEVERITIES.map((sev) => {
    return `${sev.padEnd(8)} ${summary(m.bySeverity.get(sev) ?? [], [0.5, 0.95, 1], fmtMs, true)}`;
  });
}
