// A lone new report's first round, in the report's own transaction (issue 14, the
// steady path). Quiet, a report used to cost two transactions before a hero heard of
// it: the report's, then, after its commit was carried out, the round's, with a read
// and a Redis search between them. Here the search starts beside the report's
// transaction, and when the report makes a new single-hero incident the round runs on
// the row just inserted, before the same COMMIT: the offers commit with the incident.
//
// Only where it is cheap and safe: a batch of one report (a burst's batches keep the
// separate round, queued by severity), a new incident with one slot, a search already
// answered when the transaction needs it (the transaction never waits on Redis), and
// heroes found at the base radius (widening is the dispatch round's). Anything else
// leaves the `dispatch` outbox row, as before. If the round fails, report.service.ts
// writes the report again without it: a round must never cost a report.
import type { ReportInput } from '../../shared/schemas.ts';
import type { Tx } from '../db.ts';
import { findCandidates } from '../geo/matcher.ts';
import type { HeroPositions, NearbyHero } from '../geo/positions.redis.ts';
import type { IncidentRow } from '../store/incidents.store.ts';
import { traced } from '../telemetry/tracing.ts';
import type { ServiceContext } from './context.ts';
import { firstSearch, offerRound, type RoundOutcome } from './dispatch.service.ts';
import { rankRound, type RoundRanking } from './ranking.service.ts';

/** Heroes found for a report before its transaction, at the radius searched. */
export interface FoundAhead { radiusKm: number; candidates: NearbyHero[] }

/** Starts the search for a lone report's heroes. Settles with null (nobody, or Redis failed); never rejects. */
export function searchAhead(ctx: ServiceContext, positions: HeroPositions, input: ReportInput): Promise<FoundAhead | null> {
  const { radiusKm, limit } = firstSearch(ctx, input.severity);
  return traced('dispatch.search', { 'dispatch.ahead': true, 'dispatch.radius_km': radiusKm }, async (span) => {
    const candidates = await findCandidates(positions, { center: input.location, radiusKm, limit, freshMs: ctx.config.LOCATION_FRESH_MS });
    span.setAttribute('dispatch.candidates', candidates.length);
    return candidates.length > 0 ? { radiusKm, candidates } : null;
  }).catch(() => null);
}

/** The search's answer if it is in already, else null: a transaction holding locks never waits on Redis. */
export function answeredAlready(search: Promise<FoundAhead | null>): Promise<FoundAhead | null> {
  // An already settled promise wins the race against one settled after it.
  return Promise.race([search, Promise.resolve(null)]);
}

/** A first round under way in a report's transaction: its candidates' ranking is read first. */
export interface FirstRound { found: FoundAhead; ranking: Promise<RoundRanking> }

/**
 * Sends the ranking's reads now, so they ride with the incident's insert. The promise is
 * also caught here: if it fails, the insert fails after it and the transaction throws that.
 */
export function startFirstRound(ctx: ServiceContext, tx: Tx, report: Pick<IncidentRow, 'severity' | 'kind'>, found: FoundAhead): FirstRound {
  const ranking = traced('dispatch.rank', {}, () => rankRound(ctx, tx, report, found.candidates, firstSearch(ctx, report.severity).batch));
  ranking.catch(() => {});
  return { found, ranking };
}

/** The round, on the incident this transaction inserted (locked by the insert). */
export async function finishFirstRound(ctx: ServiceContext, tx: Tx, row: IncidentRow, first: FirstRound): Promise<RoundOutcome> {
  return traced('dispatch.round', { 'incident.id': row.id, 'dispatch.inline': true }, async (span) => {
    const outcome = await offerRound(ctx, tx, row, new Map(), await first.ranking, first.found.radiusKm);
    span.setAttribute('dispatch.outcome', outcome);
    return outcome;
  });
}
