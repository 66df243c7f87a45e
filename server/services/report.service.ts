// POST /v1/incidents, committed in batches (group commit): one transaction claims the
// idempotency keys of every report in the batch, inserts the new incidents with their
// first audit events and the outbox rows that start dispatch, and links the reports of
// emergencies already open, each through the machine. Every report keeps its own
// outcome (new, linked, replayed, key mismatch); the batch costs the round trips of one
// report. Where reports go is decided by report.plan.ts; the batches are formed by
// report.batcher.ts; a lone report's first round rides in its transaction
// (report.first-round.ts).
import { createHash, randomUUID } from 'node:crypto';
import { startIncident } from '../../machines/incident.logic.ts';
import type { ReportInput } from '../../shared/schemas.ts';
import type { IncidentView, Need } from '../../shared/types.ts';
import { AppError, isAppError } from '../errors.ts';
import { enqueue } from '../outbox/outbox.buffer.ts';
import { isTransient, type Tx } from '../db.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import { pointKeyAt } from '../store/idempotency.store.ts';
import { addCoReporter, getIncidents, incidentViews, insertIncidents, toIncidentView, type IncidentRow } from '../store/incidents.store.ts';
import { claimKey, claimKeys, findDuplicates, lockDedupeCells, priorClaims, type PriorClaim } from '../store/intake.store.ts';
import { traced } from '../telemetry/tracing.ts';
import { inTx, type ServiceContext } from './context.ts';
import { applyEvent } from './incident.runner.ts';
import { answeredAlready, finishFirstRound, searchAhead, startFirstRound, type FoundAhead } from './report.first-round.ts';
import { DEFAULT_NEEDS, placeReports, slotsOf, type Placement } from './report.plan.ts';
import { incidentFor } from './views.ts';

export { slotsCover } from './report.plan.ts';
/** Whether this civilian already used this key (the HTTP layer asks before queueing a report). */
export { idempotencyKeyExists } from '../store/idempotency.store.ts';

export interface Report {
  civilianId: string; key: string; input: ReportInput;
  /** Arrival order (the batch is in urgency order): of two uses of one key, the first to arrive claims it. */
  arrival?: number;
}
/** One report's answer: the incident it made, joined or replayed, or why it was refused. */
export type ReportOutcome = { ok: true; created: boolean; incident: IncidentView } | { ok: false; error: AppError };

/** A stable digest of the parsed body: key order and absent defaults do not matter. */
function requestHash(input: ReportInput): string {
  const canonical = JSON.stringify({
    kind: input.kind, severity: input.severity, lat: input.location.lat, lng: input.location.lng,
    description: input.description ?? '',
    needs: (input.needs ?? DEFAULT_NEEDS).map((n) => ({ skill: n.skill, count: n.count })),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface Item extends Report { hash: string; needs: Need[]; id: string; claim: string; arrival: number }

/** What the transaction decided for one report; replays are read after the commit. */
type Decided =
  | { kind: 'created'; incident: IncidentView }
  | { kind: 'linked'; incident: IncidentView }
  | { kind: 'replay'; id: string }
  | { kind: 'refused'; error: AppError };

const mismatch = () => new AppError('idempotency_mismatch', 'This Idempotency-Key was already used for a different report.');

/** A replay of a key claimed before: the same body is the same report; another body is refused. */
function replayOf(item: Item, prior: PriorClaim | undefined): Decided {
  if (!prior) return { kind: 'refused', error: new AppError('unavailable', 'idempotency key vanished; retry', { retryAfterS: 1 }) };
  return prior.request_hash === item.hash ? { kind: 'replay', id: prior.incident_id } : { kind: 'refused', error: mismatch() };
}

/**
 * Commits a batch of reports in one transaction, most urgent first as given. Throws
 * only when the whole transaction failed (nothing of the batch was written).
 */
export async function commitReports(ctx: ServiceContext, reports: Report[], positions?: HeroPositions): Promise<ReportOutcome[]> {
  const items: Item[] = reports.map((r, k) => ({
    ...r, arrival: r.arrival ?? k, hash: requestHash(r.input), needs: r.input.needs ?? DEFAULT_NEEDS, id: randomUUID(), claim: claimKey(r.civilianId, r.key),
  }));
  // A key sent twice in one batch (a client's retry while its report waited) is claimed
  // once, by the first to arrive; a repeat is answered as a replay of it.
  const owner = new Map<string, Item>();
  for (const item of [...items].sort((x, y) => x.arrival - y.arrival)) if (!owner.has(item.claim)) owner.set(item.claim, item);
  const unique = items.filter((i) => owner.get(i.claim) === i);
  // A lone single-hero report's heroes are searched for beside its transaction (report.first-round.ts).
  const lone = items.length === 1 && slotsOf(items[0]!.needs).length === 1;
  const ahead = positions && lone ? searchAhead(ctx, positions, items[0]!.input) : null;
  const tried = { round: false };
  const write = (search: Promise<FoundAhead | null> | null) => traced('report.transaction', { 'reports.batch': items.length }, () =>
    inTx(ctx, 'report', (tx) => decide(ctx, tx, unique, search, tried), {
      priority: items.some((i) => i.input.severity === 'critical') ? 'critical' : 'normal',
      // Admitted reports wait behind critical work and accepts; past the gate's own wait
      // they are told to come back (503) rather than left to their clients' timeouts.
      slotWaitMs: ctx.config.REPORTS_QUEUE_WAIT_MS,
    }));
  let decisions: Decisions;
  try {
    decisions = await write(ahead);
  } catch (err) {
    // Written with its first round, the report failed for a reason that may be the
    // round's own: written again without it (the dispatch round takes over, watched).
    // Busy or disconnected is the report's answer either way, as is any failure of a
    // transaction that ran no round.
    if (!tried.round || isTransient(err) || (isAppError(err) && err.code === 'unavailable')) throw err;
    ctx.log.warn({ err }, 'report with its first round failed; written without it');
    decisions = await write(null);
  }
  const { byKey, priors } = decisions;

  const outcomes = items.map((item): Decided => {
    const first = owner.get(item.claim)!;
    const theirs = byKey.get(item.claim)!;
    if (first === item) return theirs;
    // Claimed before this batch: judged against that claim, as the first was.
    if (priors.has(item.claim)) return replayOf(item, priors.get(item.claim));
    if (theirs.kind !== 'created' && theirs.kind !== 'linked') return theirs;
    return first.hash === item.hash ? { kind: 'replay', id: theirs.incident.id } : { kind: 'refused', error: mismatch() };
  });
  return answer(ctx, items, outcomes);
}

/** Each key's decision, and the claims earlier requests made of the keys replayed. */
interface Decisions { byKey: Map<string, Decided>; priors: Map<string, PriorClaim> }

/** The transaction: claims, places and writes. */
async function decide(ctx: ServiceContext, tx: Tx, unique: Item[], ahead: Promise<FoundAhead | null> | null, tried: { round: boolean }): Promise<Decisions> {
  const out = new Map<string, Decided>();
  // Sorted claims: two batches with keys in common wait for each other, never deadlock.
  const sorted = [...unique].sort((a, b) => (a.claim < b.claim ? -1 : a.claim > b.claim ? 1 : 0));
  const claims = sorted.map((i) => ({ actor: i.civilianId, key: i.key, requestHash: i.hash, incidentId: i.id }));
  // A lone report's search for open incidents close by goes out with its claim and runs
  // after it: it does not wait a round trip for the claim first (if it is a replay, the
  // result is dropped). A batch searches for its fresh reports only, once claimed: a
  // burst's retries never lock the incidents they replay.
  const [claimed, nearby] = unique.length === 1
    ? await Promise.all([claimKeys(tx, claims), storedDuplicates(ctx, tx, unique)])
    : [await claimKeys(tx, claims), null];
  const replays = unique.filter((i) => !claimed.has(i.claim));
  const priors = await priorClaims(tx, replays.map((i) => ({ actor: i.civilianId, key: i.key })));
  for (const item of replays) out.set(item.claim, replayOf(item, priors.get(item.claim)));

  const fresh = unique.filter((i) => claimed.has(i.claim));
  const stored = nearby ? (fresh.length ? nearby : new Map<number, IncidentRow>()) : await storedDuplicates(ctx, tx, fresh);
  const placements = placeReports(fresh, stored, ctx.config.DEDUPE_RADIUS_M);
  const news = fresh.filter((_, k) => placements[k]!.to === 'new');
  const lone = ahead && unique.length === 1 && news.length === 1 && slotsOf(news[0]!.needs).length === 1 ? news[0]! : null;
  const found = lone ? await answeredAlready(ahead!) : null;
  const first = lone && found ? startFirstRound(ctx, tx, lone.input, found) : null;
  tried.round = first !== null;
  const created = await createIncidents(ctx, tx, news, first ? lone : null);
  for (const [item, row] of created) {
    out.set(item.claim, { kind: 'created', incident: toIncidentView(row, []) });
  }
  if (first) {
    const row = created.get(lone!)!;
    const outcome = await finishFirstRound(ctx, tx, row, first);
    // Offered, or nobody free (the round queued its own retry); anything else is the
    // dispatch round's to sort out, as if this round had not run.
    if (outcome !== 'offered' && outcome !== 'nobody') enqueue(tx, 'dispatch', { incidentId: row.id, delayMs: 0, severity: row.severity }, row.id);
  }
  // Links in batch order, each through the machine under the incident's row lock (a
  // stored incident was locked by findDuplicates; a new one is this transaction's).
  const current = new Map<string, IncidentRow>();
  for (const [k, item] of fresh.entries()) {
    const p = placements[k]!;
    if (p.to === 'new') continue;
    const target = linkTarget(p, fresh, created);
    const row = current.get(target.id) ?? target;
    const { row: saved, view } = await link(ctx, tx, row, item);
    current.set(saved.id, saved);
    out.set(item.claim, { kind: 'linked', incident: view });
  }
  return { byKey: out, priors };
}

/** For each fresh report, the oldest open incident of its kind close by (locked), by index. */
async function storedDuplicates(ctx: ServiceContext, tx: Tx, fresh: Item[]): Promise<Map<number, IncidentRow>> {
  if (ctx.config.DEDUPE_RADIUS_M <= 0 || fresh.length === 0) return new Map();
  // Reports of one kind in one ~1 km cell are serialised, so two reports at once cannot
  // both miss each other. Sent together, run in order: the search starts once the locks
  // are held (lockDedupeCells is sent at once; findDuplicates awaits its own query).
  const cells = [...new Set(fresh.map((i) => `${i.input.kind}:${Math.round(i.input.location.lat * 100)}:${Math.round(i.input.location.lng * 100)}`))].sort();
  const locked = lockDedupeCells(tx, cells);
  const [, found] = await Promise.all([locked, findDuplicates(tx, fresh.map((i) => ({ kind: i.input.kind, ...i.input.location })), {
    radiusM: ctx.config.DEDUPE_RADIUS_M, windowMs: ctx.config.DEDUPE_WINDOW_MS,
  })]);
  return found;
}

/**
 * New incidents with their first audit events and the outbox rows that start dispatch
 * and tell the screens; `rounding`, whose first round this transaction runs, gets no
 * dispatch row.
 */
async function createIncidents(ctx: ServiceContext, tx: Tx, items: Item[], rounding: Item | null): Promise<Map<Item, IncidentRow>> {
  const deadlineAt = new Date(Date.now() + ctx.config.DISPATCH_DEADLINE_MS);
  const rows = await insertIncidents(tx, items.map((item) => {
    const input = { slots: slotsOf(item.needs), maxRounds: ctx.config.DISPATCH_MAX_ROUNDS, severity: item.input.severity, reporter: item.civilianId, perMember: true };
    return {
      id: item.id, kind: item.input.kind, severity: item.input.severity, location: item.input.location,
      description: item.input.description ?? '', needs: item.needs, reportedBy: item.civilianId, snapshot: startIncident(input),
      deadlineAt, input,
    };
  }));
  const created = new Map<Item, IncidentRow>();
  for (const [k, item] of items.entries()) {
    const row = rows[k]!;
    created.set(item, row);
    if (item !== rounding) enqueue(tx, 'dispatch', { incidentId: row.id, delayMs: 0, severity: row.severity }, row.id);
    enqueue(tx, 'push:incident', { incident: toIncidentView(row, []) }, row.id);
  }
  return created;
}

function linkTarget(p: Exclude<Placement, { to: 'new' }>, fresh: Item[], created: Map<Item, IncidentRow>): IncidentRow {
  return p.to === 'stored' ? p.row : created.get(fresh[p.index]!)!;
}

/**
 * The report joins through the machine: an audit event LINKED keeps what this civilian
 * said, severity rises to the highest report, and dispatchers are pushed the change.
 */
async function link(ctx: ServiceContext, tx: Tx, row: IncidentRow, item: Item) {
  await addCoReporter(tx, row.id, item.civilianId);
  await pointKeyAt(tx, item.civilianId, item.key, row.id);
  const applied = await applyEvent(ctx, tx, row, {
    type: 'LINK', civilianId: item.civilianId, severity: item.input.severity, description: item.input.description ?? '', key: item.key,
  }, { actor: `civilian:${item.civilianId}` });
  ctx.log.info({ incidentId: row.id, civilianId: item.civilianId, severity: item.input.severity, now: applied.view.severity }, 'duplicate report linked');
  return applied;
}

/** Each report's answer; replays are read as the incident is now, in one query. */
async function answer(ctx: ServiceContext, items: Item[], decided: Decided[]): Promise<ReportOutcome[]> {
  const replayIds = [...new Set(decided.flatMap((d) => (d.kind === 'replay' ? [d.id] : [])))];
  const now = new Map((await incidentViews(ctx.sql, await getIncidents(ctx.sql, replayIds))).map((v) => [v.id, v]));
  return items.map((item, k) => {
    const d = decided[k]!;
    if (d.kind === 'refused') return { ok: false, error: d.error };
    ctx.metrics.reportsTotal.inc({ outcome: d.kind === 'replay' ? 'replayed' : d.kind });
    if (d.kind === 'created') {
      // Answered as this request committed it; dispatch may already be under way.
      ctx.log.info({ incidentId: d.incident.id, kind: item.input.kind, severity: item.input.severity }, 'incident reported');
      return { ok: true, created: true, incident: d.incident };
    }
    // A linked report: answered as it committed. A replay: the incident as it is now.
    // Either may be another civilian's incident, so it is shown without their identity.
    const incident = d.kind === 'linked' ? d.incident : now.get(d.id);
    if (!incident) return { ok: false, error: new AppError('internal', 'the incident of a replayed report is missing after commit') };
    return { ok: true, created: false, incident: incidentFor({ role: 'civilian', sub: item.civilianId }, incident) };
  });
}
