// Checks through the contract only (dispatcher HTTP): every report answered 2xx is an
// incident that left `reported`, none is lost, no slot and no hero holds two active
// assignments.
import { http, pool, problem, withRetry } from './http.ts';
import type { Rng } from './rng.ts';
import type { Stats } from './stats.ts';
import { sleep, type Incident } from './types.ts';

export interface CheckResult { name: string; ok: boolean; detail: string }

export interface ScanResult { incidents: number; truncated: boolean; violations: string[] }

const ACTIVE_STATES = 'assigned,en_route,on_scene';

/** One look at every incident holding heroes: one active assignment per slot and per hero. */
export async function scanAssignments(url: string, token: string): Promise<ScanResult> {
  const res = await http('GET', `${url}/v1/incidents?state=${ACTIVE_STATES}`, { token, timeoutMs: 15_000 });
  if (res.status !== 200) throw new Error(`GET /v1/incidents?state=${ACTIVE_STATES}: HTTP ${res.status} ${problem(res.body)}`);
  const items = ((res.body as { items?: Incident[] } | null)?.items ?? []);
  const violations: string[] = [];
  const heroes = new Map<string, string[]>();
  for (const inc of items) {
    const active = inc.assignments.filter((a) => a.state === 'active');
    const slots = inc.needs.reduce((n, need) => n + need.count, 0) || 1;
    if (active.length > slots) violations.push(`incident ${inc.id} (${inc.state}) has ${active.length} active assignments for ${slots} slot(s)`);
    // Per skill: no more active heroes for a skill than its needs ask for (skill null = any slot).
    const bySkill = new Map<string, number>();
    for (const a of active) if (a.skill !== null) bySkill.set(a.skill, (bySkill.get(a.skill) ?? 0) + 1);
    for (const [skill, n] of bySkill) {
      const want = inc.needs.filter((x) => x.skill === skill).reduce((s, x) => s + x.count, 0);
      if (n > want) violations.push(`incident ${inc.id} has ${n} active "${skill}" assignments for ${want} slot(s)`);
    }
    for (const a of active) heroes.set(a.heroId, [...(heroes.get(a.heroId) ?? []), inc.id]);
  }
  for (const [hero, incs] of heroes) {
    if (incs.length > 1) violations.push(`hero ${hero} holds ${incs.length} active assignments: ${incs.join(', ')}`);
  }
  return { incidents: items.length, truncated: items.length >= 1000, violations };
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
 * GET /v1/incidents/:id for every report answered 2xx (a random sample above `max`).
 * Incidents still `reported` are looked at again until `patienceMs` has passed.
 */
export async function auditReports(o: { url: string; token: string; stats: Stats; rng: Rng; max: number; giveUpAt: number; patienceMs: number }): Promise<ReportAudit> {
  const all = [...o.stats.reported.keys()];
  let ids = all;
  if (all.length > o.max) {
    ids = [...all];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(o.rng.next() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    ids = ids.slice(0, o.max);
  }
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

export function judge(o: { stats: Stats; audit: ReportAudit | null; auditError: string | null; scan: ScanResult | null; scanError: string | null; overfilled: number }): CheckResult[] {
  const { stats, audit, scan } = o;
  const r = stats.reports;
  const list = (xs: string[]) => (xs.length ? `: ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}` : '');
  const checks: CheckResult[] = [];
  if (audit) {
    const sample = audit.checked < audit.total ? ` (a sample of ${audit.checked} of ${audit.total})` : ` (all ${audit.checked})`;
    checks.push({ name: 'incidents lost = 0', ok: audit.lost.length === 0 && audit.unverified.length === 0, detail: `${audit.lost.length} answered 2xx but 404 now${list(audit.lost)}${audit.unverified.length ? `; ${audit.unverified.length} could not be read${list(audit.unverified)}` : ''}${sample}` });
    checks.push({ name: 'every 2xx report left `reported`', ok: audit.stillReported.length === 0 && audit.unverified.length === 0, detail: `${audit.stillReported.length} still reported${list(audit.stillReported)}${sample}` });
  } else {
    checks.push({ name: 'incidents lost = 0', ok: false, detail: `not verified: ${o.auditError ?? 'no audit'}` });
  }
  if (scan) {
    checks.push({ name: 'one active assignment per slot and per hero', ok: scan.violations.length === 0 && stats.scans.violations.length === 0, detail: `final scan of ${scan.incidents} active incident(s)${scan.truncated ? ' (list capped at 1000)' : ''}: ${scan.violations.length} violation(s)${list(scan.violations)}; ${stats.scans.runs} scans during the run: ${stats.scans.violations.length} violation(s)${list(stats.scans.violations)}` });
  } else {
    checks.push({ name: 'one active assignment per slot and per hero', ok: false, detail: `final scan failed: ${o.scanError ?? '?'}` });
  }
  checks.push({ name: 'no over-filled incident on /dispatch', ok: o.overfilled === 0, detail: `${o.overfilled} incident(s) seen with more active assignments than slots` });
  checks.push({ name: 'valid reports never refused', ok: r.refused === 0, detail: `${r.refused} answered 4xx other than 429` });
  checks.push({ name: 'replays answer the same incident', ok: r.doubleTapMismatch === 0, detail: `${r.doubleTaps} double taps, ${r.doubleTapMismatch} answered differently` });
  return checks;
}
