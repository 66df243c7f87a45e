// Checks through the contract only (dispatcher HTTP): every report answered 2xx is an
// incident that left `reported`, none is lost, no slot and no hero holds two active
// assignments; and the run itself proved something: reports were answered, heroes were
// assigned and made progress, and every invariant scan read the whole list.
import { problem } from '../lib/wire.ts';
import { burstChecks, type BurstAccount } from './burst-account.ts';
import { http, pool, withRetry } from './http.ts';
import type { Rng } from './rng.ts';
import type { Stats } from './stats.ts';
import type { CheckResult } from './check-result.ts';
import { sleep, type Incident } from './types.ts';

export type { CheckResult } from './check-result.ts';

export interface ScanResult { incidents: number; truncated: boolean; violations: string[] }

const ACTIVE_STATES = 'assigned,en_route,on_scene';
/** A team with a slot open is `dispatching` (or `escalated`) while its members hold assignments. */
const ACTIVE_STATES_WITH_TEAMS = 'dispatching,escalated,assigned,en_route,on_scene';

/** Pages a scan reads at most (each the server's default page, 1,000 incidents). */
const MAX_PAGES = 50;

/**
 * One look at every incident holding heroes: one active assignment per slot and per
 * hero. The list comes in pages, each one snapshot; a hero seen active on two pages is
 * read again (both incidents) before it counts, since between two pages a hero may
 * have been released from one and assigned the other.
 */
export async function scanAssignments(url: string, token: string, o: { teams?: boolean } = {}): Promise<ScanResult> {
  const states = o.teams ? ACTIVE_STATES_WITH_TEAMS : ACTIVE_STATES;
  const violations: string[] = [];
  const heroes = new Map<string, { incident: string; page: number }[]>();
  let before: string | undefined;
  let incidents = 0;
  let page = 0;
  for (; page < MAX_PAGES; page++) {
    const query = `state=${states}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
    const res = await http('GET', `${url}/v1/incidents?${query}`, { token, timeoutMs: 15_000 });
    if (res.status !== 200) throw new Error(`GET /v1/incidents?${query}: HTTP ${res.status} ${problem(res.body)}`);
    const body = res.body as { items?: Incident[]; next?: string } | null;
    const items = body?.items ?? [];
    incidents += items.length;
    for (const inc of items) {
      violations.push(...slotViolations(inc));
      for (const a of activeOf(inc)) heroes.set(a.heroId, [...(heroes.get(a.heroId) ?? []), { incident: inc.id, page }]);
    }
    before = body?.next;
    if (before === undefined) break;
  }
  for (const [hero, held] of heroes) {
    if (held.length < 2) continue;
    const onePage = held.every((h) => h.page === held[0]!.page);
    const still = onePage ? held.map((h) => h.incident) : await stillHeld(url, token, hero, held.map((h) => h.incident));
    if (still.length > 1) violations.push(`hero ${hero} holds ${still.length} active assignments: ${still.join(', ')}`);
  }
  return { incidents, truncated: before !== undefined, violations };
}

function activeOf(inc: Incident) {
  return inc.assignments.filter((a) => a.state === 'active');
}

/** Within one incident (one snapshot): no more active heroes than slots, per slot and per skill. */
function slotViolations(inc: Incident): string[] {
  const violations: string[] = [];
  const active = activeOf(inc);
  const slots = inc.needs.reduce((n, need) => n + need.count, 0) || 1;
  if (active.length > slots) violations.push(`incident ${inc.id} (${inc.state}) has ${active.length} active assignments for ${slots} slot(s)`);
  const bySlot = new Map<number, string[]>();
  for (const a of active) if (a.slot !== undefined) bySlot.set(a.slot, [...(bySlot.get(a.slot) ?? []), a.heroId]);
  for (const [slot, held] of bySlot) {
    if (held.length > 1) violations.push(`incident ${inc.id} slot ${slot} has ${held.length} active assignments: ${held.join(', ')}`);
  }
  // Per skill: no more active heroes for a skill than its needs ask for (skill null = any slot).
  const bySkill = new Map<string, number>();
  for (const a of active) if (a.skill !== null) bySkill.set(a.skill, (bySkill.get(a.skill) ?? 0) + 1);
  for (const [skill, n] of bySkill) {
    const want = inc.needs.filter((x) => x.skill === skill).reduce((s, x) => s + x.count, 0);
    if (n > want) violations.push(`incident ${inc.id} has ${n} active "${skill}" assignments for ${want} slot(s)`);
  }
  return violations;
}

/** Those of `incidents` that still show `hero` active, read one by one after the scan. */
async function stillHeld(url: string, token: string, hero: string, incidents: string[]): Promise<string[]> {
  const held: string[] = [];
  for (const id of incidents) {
    const res = await http('GET', `${url}/v1/incidents/${encodeURIComponent(id)}`, { token, timeoutMs: 15_000 });
    if (res.status !== 200) throw new Error(`GET /v1/incidents/${id}: HTTP ${res.status} ${problem(res.body)}`);
    if (activeOf(res.body as Incident).some((a) => a.heroId === hero)) held.push(id);
  }
  return held;
}

export interface ReportAudit {
  checked: number;
  total: number;
  lost: string[];
  stillReported: string[];
  unverified: string[];
  finalStates: Map<string, number>;
  /** Incidents whose hero vanished and that still list that hero as active. */
  heldByVanished: number;
  vanishedChecked: number;
}

/**
 * GET /v1/incidents/:id for every report answered 2xx (a random sample above `max`;
 * the ids in `always`, the burst's, are all read whatever `max` says).
 * Incidents still `reported` are looked at again until `patienceMs` has passed.
 */
export async function auditReports(o: { url: string; token: string; stats: Stats; rng: Rng; max: number; giveUpAt: number; patienceMs: number; always?: ReadonlySet<string> }): Promise<ReportAudit> {
  const all = [...o.stats.reported.keys()];
  const always = o.always ?? new Set<string>();
  let ids = all.filter((id) => !always.has(id));
  if (ids.length > o.max) {
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(o.rng.next() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    ids = ids.slice(0, o.max);
  }
  ids = [...always, ...ids];
  const vanished = [...o.stats.vanishedHolding.keys()].filter((id) => !ids.includes(id));
  const got = new Map<string, Incident | 'lost' | 'unverified'>();
  const fetchOne = async (id: string) => {
    if (performance.now() > o.giveUpAt) { got.set(id, 'unverified'); return; }
    const res = await withRetry(() => http('GET', `${o.url}/v1/incidents/${encodeURIComponent(id)}`, { token: o.token, timeoutMs: 10_000 }), {
      rng: o.rng, maxAttempts: 4, giveUpAt: () => o.giveUpAt,
    });
    if (res?.status === 200 && (res.body as Incident | null)?.id === id) got.set(id, res.body as Incident);
    else if (res?.status === 404) got.set(id, 'lost');
    else {
      got.set(id, 'unverified');
      o.stats.note('could not verify incident', `${id}: ${res ? `HTTP ${res.status} ${problem(res.body)}` : 'no answer'}`);
    }
  };
  await pool([...ids, ...vanished], 16, fetchOne);
  // Give incidents that have not left `reported` yet a little time.
  const patienceEnd = Math.min(o.giveUpAt, performance.now() + o.patienceMs);
  let pending = ids.filter((id) => { const g = got.get(id); return typeof g === 'object' && g.state === 'reported'; });
  while (pending.length && performance.now() < patienceEnd) {
    await sleep(2_000);
    await pool(pending, 16, fetchOne);
    pending = pending.filter((id) => { const g = got.get(id); return typeof g === 'object' && g.state === 'reported'; });
  }
  const finalStates = new Map<string, number>();
  const lost: string[] = [];
  const unverified: string[] = [];
  for (const id of ids) {
    const g = got.get(id);
    if (g === 'lost') lost.push(id);
    else if (g === 'unverified' || g === undefined) unverified.push(id);
    else finalStates.set(g.state, (finalStates.get(g.state) ?? 0) + 1);
  }
  let heldByVanished = 0;
  let vanishedChecked = 0;
  for (const [incidentId, heroId] of o.stats.vanishedHolding) {
    const g = got.get(incidentId);
    if (typeof g !== 'object') continue;
    vanishedChecked += 1;
    if (g.assignments.some((a) => a.heroId === heroId && a.state === 'active')) heldByVanished += 1;
  }
  return { checked: ids.length, total: all.length, lost, stillReported: pending, unverified, finalStates, heldByVanished, vanishedChecked };
}

/**
 * Reports that may end without a 2xx answer: 0.1% of those sent (a report still being
 * retried when the grace period after the stop ran out). A report answered 503 (or 429,
 * or lost on the network) and answered 2xx on a retry counts as answered: that is how
 * overload is meant to look.
 */
export const UNANSWERED_TOLERANCE = 0.001;

export function judge(o: { stats: Stats; audit: ReportAudit | null; auditError: string | null; scan: ScanResult | null; scanError: string | null; overfilled: number; teams?: boolean; burst?: BurstAccount | null }): CheckResult[] {
  const { stats, audit, scan } = o;
  const r = stats.reports;
  const list = (xs: string[]) => (xs.length ? `: ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}` : '');
  const checks: CheckResult[] = [];

  // Answered at all: a server answering every report with 5xx must not pass for having
  // no answered report to lose.
  const answered = r.created + r.replayed;
  const unanswered = r.sent - answered - r.refused; // never answered, or still in flight at the end
  const allowed = Math.floor(r.sent * UNANSWERED_TOLERANCE);
  checks.push({
    name: 'every report answered',
    ok: r.sent > 0 && answered > 0 && unanswered <= allowed,
    detail: `${answered} of ${r.sent} answered 2xx (${r.answeredAfterRetry} after a retry: 503 ${r.overloaded}, 429 ${r.throttled}, other 5xx ${r.serverErrors - r.overloaded}, network ${r.networkErrors} attempts), `
      + `${unanswered} never answered (tolerated: ${allowed}, ${UNANSWERED_TOLERANCE * 100}% of those sent)`,
  });
  if (audit) {
    const sample = audit.checked < audit.total ? ` (a sample of ${audit.checked} of ${audit.total})` : ` (all ${audit.checked})`;
    checks.push({ name: 'incidents lost = 0', ok: audit.checked > 0 && audit.lost.length === 0 && audit.unverified.length === 0, detail: `${audit.lost.length} answered 2xx but 404 now${list(audit.lost)}${audit.unverified.length ? `; ${audit.unverified.length} could not be read${list(audit.unverified)}` : ''}${sample}` });
    checks.push({ name: 'every 2xx report left `reported`', ok: audit.checked > 0 && audit.stillReported.length === 0 && audit.unverified.length === 0, detail: `${audit.stillReported.length} still reported${list(audit.stillReported)}${sample}` });
  } else {
    checks.push({ name: 'incidents lost = 0', ok: false, detail: `not verified: ${o.auditError ?? 'no audit'}` });
  }

  // Liveness: the city moved. Offers went out, heroes accepted them, the server showed
  // the incidents assigned, and heroes' progress was accepted.
  const progressed = stats.progress.en_route + stats.progress.on_scene + stats.progress.resolved;
  checks.push({
    name: 'liveness: offers went out and heroes made progress',
    ok: stats.offers.received > 0 && progressed > 0,
    detail: `${stats.offers.received} offers received, ${progressed} progress updates accepted (en_route ${stats.progress.en_route}, on_scene ${stats.progress.on_scene}, resolved ${stats.progress.resolved})`,
  });
  checks.push({
    name: 'incidents were assigned',
    ok: stats.offers.accepted > 0 && stats.assigned.seen.size > 0,
    detail: `${stats.offers.accepted} offers accepted, ${stats.assigned.seen.size} incidents seen assigned (or later) on /dispatch, ${stats.resolved.seen.size} resolved`,
  });

  if (scan) {
    checks.push({ name: 'one active assignment per slot and per hero', ok: scan.violations.length === 0 && stats.scans.violations.length === 0, detail: `final scan of ${scan.incidents} active incident(s): ${scan.violations.length} violation(s)${list(scan.violations)}; ${stats.scans.runs} scans during the run: ${stats.scans.violations.length} violation(s)${list(stats.scans.violations)}` });
  } else {
    checks.push({ name: 'one active assignment per slot and per hero', ok: false, detail: `final scan failed: ${o.scanError ?? '?'}` });
  }
  // A scan that failed or read a capped list checked less than it claims.
  checks.push({
    name: 'every invariant scan complete',
    ok: scan !== null && !scan.truncated && stats.scans.failed === 0 && stats.scans.truncated === 0,
    detail: `final scan ${scan ? (scan.truncated ? `truncated at ${scan.incidents} incidents` : 'complete') : 'failed'}; during the run ${stats.scans.runs} complete or truncated, ${stats.scans.truncated} truncated, ${stats.scans.failed} failed`,
  });
  checks.push({ name: 'no over-filled incident on /dispatch', ok: o.overfilled === 0, detail: `${o.overfilled} incident(s) seen with more active assignments than slots` });
  if (o.teams) checks.push(...teamChecks(stats));
  checks.push({ name: 'valid reports never refused', ok: r.refused === 0, detail: `${r.refused} answered 4xx other than 429` });
  checks.push({ name: 'replays answer the same incident', ok: r.doubleTapMismatch === 0, detail: `${r.doubleTaps} double taps, ${r.doubleTapMismatch} answered differently` });
  if (o.burst) checks.push(...burstChecks(o.burst));
  return checks;
}

/**
 * With `--teams`: offers only for slots the hero fits, no incident shown `assigned` or
 * later with a slot open, and teams were filled at all (a server that ignored `needs`
 * would have answered one-hero incidents).
 */
function teamChecks(stats: Stats): CheckResult[] {
  const sizes = stats.reportedBySize();
  const teams = [...sizes].filter(([size]) => size > 1).reduce((n, [, k]) => n + k, 0);
  const full = [...stats.assigned.bySize].filter(([size]) => size > 1).reduce((n, [, xs]) => n + xs.length, 0);
  const sent = [...stats.teamsSent.values()].reduce((a, b) => a + b, 0);
  return [
    {
      name: 'teams were filled',
      ok: teams > 0 && full > 0,
      detail: `${sent} team reports sent, ${teams} incidents answered needing more than one hero, ${full} of them seen with every slot filled`,
    },
    {
      name: 'every offer fits the hero\'s skills',
      ok: stats.offers.misfit === 0,
      detail: `${stats.offers.misfit} of ${stats.offers.received} offers were for a slot whose skill the hero lacks`,
    },
    {
      name: 'no team shown assigned with a slot open',
      ok: stats.underfilled.size === 0,
      detail: `${stats.underfilled.size} incident(s) seen \`assigned\` or later on /dispatch with fewer members than slots`,
    },
  ];
}
