// The ranking model in force in this process (issue 16), and a round's ranking of its
// candidates. The model file (RANKING_MODEL_PATH, written by `npm run train`) is loaded
// at start, again on SIGHUP and once a minute; when RANKING_MODE is `distance`, no model
// is loaded, the file is missing or unreadable, or the model is older than
// RANKING_MODEL_MAX_AGE_MS, today's ETA order ranks (server/ranking/ranking.ts) and the
// state says why, in /readyz and in the gauge dispatch_ranking_model{state}.
//
// A round reads its candidates' histories (kept by the outbox, see
// server/store/hero-stats.store.ts) in two queries before its transaction, and scores
// them in process: nothing here holds a lock. What each offer was ranked on is stored
// with it and read back here for GET /v1/incidents/:id/offers.
import type { Config } from '../config.ts';
import type { Db, Sql, Tx } from '../db.ts';
import type { NearbyHero } from '../geo/positions.redis.ts';
import { etaMinutes } from '../geo/matcher.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import {
  DEFAULT_PRIORS, extractFeatures, FEATURE_NAMES, storedRankInputSchema, type Priors, type RankInput, type StoredRankInput,
} from '../ranking/features.ts';
import { loadModelFile } from '../ranking/model.file.ts';
import { modelAgeMs, priorsOf, staleReason, type RankingModel } from '../ranking/model.ts';
import { batchForTarget, rankCandidates } from '../ranking/ranking.ts';
import { historiesOf, pruneHeroStats, recentOfferCounts } from '../store/hero-stats.store.ts';
import { AppError } from '../errors.ts';
import { getIncident, type IncidentRow } from '../store/incidents.store.ts';
import {
  offersExplained, setOfferRankings, type Candidate, type ExplainedOfferRow, type OfferRanking, type OfferRow, type OfferScore,
} from '../store/offers.store.ts';
import type { OfferState } from '../../shared/domain.ts';
import type { ServiceContext } from './context.ts';

export const RANKING_STATES = ['learned', 'fallback: no model', 'fallback: stale', 'fallback: mode distance'] as const;
export type RankingState = (typeof RANKING_STATES)[number];

/** What /readyz says about ranking. */
export interface RankingStatus {
  state: RankingState;
  mode: Config['RANKING_MODE'];
  path: string;
  /** The model file's version, when one is loaded (even if stale). */
  version: string | null;
  trainedAt: string | null;
  /** The model's age now, by its trainedAt (ms); null without a model. */
  ageMs: number | null;
  /** Why no model is in force in learned mode (no file, a bad file, a stale model), else null. */
  error: string | null;
  /** When the file was last read (epoch ms); null in distance mode. */
  loadedAt: number | null;
}

/** The file is read again this often (a new `npm run train` is taken without a signal), and staleness re-checked. */
const RELOAD_MS = 60_000;
/** Old buckets and spent markers are pruned this often. */
const PRUNE_MS = 3_600_000;
const HOUR_MS = 3_600_000;

/** Every started service in this process, reloaded together on SIGHUP (one listener for all). */
const started = new Set<RankingService>();
const onHangup = () => { for (const s of started) s.reload('SIGHUP'); };

export class RankingService {
  private model: RankingModel | null = null;
  private loadedAt: number | null = null;
  private error: string | null = null;
  private lastState: RankingState | null = null;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly d: { config: Config; log: Logger; metrics: Metrics; sql: Sql }) {}

  /** Reads the model file again (nothing in distance mode). Never throws. */
  reload(why = 'load'): RankingStatus {
    const { config, log } = this.d;
    if (config.RANKING_MODE === 'learned') {
      let loaded: ReturnType<typeof loadModelFile>;
      try {
        loaded = loadModelFile(config.RANKING_MODEL_PATH);
      } catch (err) {
        loaded = { model: null, error: err instanceof Error ? err.message : String(err), ageMs: null };
      }
      const before = this.model?.version ?? null;
      this.model = loaded.model;
      this.error = loaded.model ? null : (loaded.error ?? 'no model');
      this.loadedAt = Date.now();
      if (why === 'load' || (loaded.model?.version ?? null) !== before) log.info({ why, version: loaded.model?.version ?? null, error: this.error }, 'ranking model loaded');
    }
    return this.status();
  }

  /** The state now (staleness moves with the clock), mirrored in the gauge. */
  status(): RankingStatus {
    const { config } = this.d;
    const learned = config.RANKING_MODE === 'learned';
    const ageMs = learned && this.model ? modelAgeMs(this.model) : null;
    const stale = learned && this.model ? staleReason(this.model, config.RANKING_MODEL_MAX_AGE_MS) : null;
    const state: RankingState = !learned ? 'fallback: mode distance'
      : !this.model ? 'fallback: no model'
        : stale ? 'fallback: stale'
          : 'learned';
    if (state !== this.lastState) {
      if (this.lastState !== null) this.d.log.warn({ from: this.lastState, to: state }, 'ranking state changed');
      this.lastState = state;
      for (const s of RANKING_STATES) this.d.metrics.rankingModel.set({ state: s }, s === state ? 1 : 0);
    }
    return {
      state, mode: config.RANKING_MODE, path: config.RANKING_MODEL_PATH,
      version: learned ? this.model?.version ?? null : null, trainedAt: learned ? this.model?.trainedAt ?? null : null, ageMs,
      error: learned ? stale ?? this.error : null, loadedAt: this.loadedAt,
    };
  }

  /** The model loaded from the file, in force or not (stale). */
  loaded(): RankingModel | null {
    return this.d.config.RANKING_MODE === 'learned' ? this.model : null;
  }

  /** The model that ranks now (null when the fallback does), and the state that says why. */
  inForce(): { model: RankingModel | null; state: RankingState } {
    const { state } = this.status();
    return { model: state === 'learned' ? this.model : null, state };
  }

  /** Reloads on SIGHUP and on a timer, and prunes old history. */
  start(): void {
    if (started.size === 0) process.on('SIGHUP', onHangup);
    started.add(this);
    const { sql, config, log } = this.d;
    const prune = () => {
      pruneHeroStats(sql, new Date(Date.now() - config.RANKING_HISTORY_MS - HOUR_MS))
        .catch((err) => log.warn({ err }, 'could not prune hero offer stats; will retry'));
    };
    this.timers = [setInterval(() => this.reload('timer'), RELOAD_MS), setInterval(prune, PRUNE_MS)];
    for (const t of this.timers) t.unref();
    prune();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    started.delete(this);
    if (started.size === 0) process.off('SIGHUP', onHangup);
  }
}

// One per service context (per app: tests run several side by side), like the outbox
// buffer's per-transaction map; created, and its model loaded, on first use.
const services = new WeakMap<ServiceContext, RankingService>();

export function rankingOf(ctx: ServiceContext): RankingService {
  let service = services.get(ctx);
  if (!service) {
    service = new RankingService(ctx);
    service.reload();
    services.set(ctx, service);
  }
  return service;
}

/** A candidate as ranked; what its offer stores is put together when first asked for. */
export type RankedCandidate = Candidate & { describe(): OfferRanking };

export interface RoundRanking {
  /** Best first (the model's order, or today's ETA order when the fallback ranks). */
  ranked: RankedCandidate[];
  /** Today's ETA order, without rankings: what teams are chosen from. */
  byEta: Candidate[];
  /** Every candidate's inputs as their offer stores them. */
  inputs: Map<string, StoredInput>;
  /** A critical single-slot round's batch, sized by the model (null: the fixed size). */
  criticalBatch: number | null;
}
type StoredInput = OfferRanking['input'];

/** Why the fallback ranks, as a fallback offer's `why` says it: "nearest by ETA (…)". */
const FALLBACK_REASON: Record<RankingState, string> = {
  learned: 'no model loaded',
  'fallback: no model': 'no model loaded',
  'fallback: stale': 'no model: the model is stale',
  'fallback: mode distance': 'no model: RANKING_MODE=distance',
};

/** The history window in words, for explanations ("7 days", "12 h"). */
const windowWords = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} day${ms === 86_400_000 ? '' : 's'}` : `${Math.round(ms / HOUR_MS)} h`);

/** Why a team member was chosen: teams keep the bottleneck-ETA choice (server/geo/team-matcher.ts). */
export const TEAM_WHY = 'team: chosen for the soonest arrival of its slowest member (by ETA, not by the model)';

/** What a team's offer stores: its inputs, its place among the slot's picks, and why (ETA). */
export function teamRanking(round: RoundRanking, heroId: string, rankInSlot: number): OfferRanking {
  return { input: round.inputs.get(heroId)!, modelVersion: null, score: null, rank: rankInSlot, explored: false, why: [TEAM_WHY] };
}

/**
 * Ranks a round's candidates. Histories and recent offer counts are read here, in two
 * queries sent at once on `db` (the round's transaction sends them with its lock: no
 * round trip of their own); the model (when in force) scores in process. The skill is checked by Postgres when the offers are inserted (a
 * hero without it is never offered, whatever their rank), so every input says
 * skillMatch 1: the order among the heroes Postgres keeps is the same.
 */
export async function rankRound(ctx: ServiceContext, db: Db, row: Pick<IncidentRow, 'severity' | 'kind'>, nearby: NearbyHero[], batch: number, at = Date.now()): Promise<RoundRanking> {
  const { config } = ctx;
  const service = rankingOf(ctx);
  const ids = nearby.map((h) => h.heroId);
  const [histories, recent] = await Promise.all([
    historiesOf(db, ids, at - config.RANKING_HISTORY_MS),
    recentOfferCounts(db, ids, at - HOUR_MS),
  ]);
  const byEta: Candidate[] = [];
  const inputs: RankInput[] = [];
  for (const h of nearby) {
    const etaS = etaMinutes(h) * 60;
    byEta.push({ heroId: h.heroId, distanceKm: h.distanceKm, etaS });
    inputs.push({
      heroId: h.heroId, distanceKm: h.distanceKm, mode: h.mode, physicsEtaS: etaS, severity: row.severity, kind: row.kind, at,
      history: histories.get(h.heroId) ?? null,
      // Candidates come from the available set: nobody holding work elsewhere is offered.
      activeLoad: 0,
      recentOffers1h: recent.get(h.heroId) ?? 0,
      skillMatch: 1,
    });
  }
  const { model, state } = service.inForce();
  // Exploration takes the last place of the batch a severity gets; a critical batch the
  // model then sizes is at least that large, so the explored hero stays in it.
  const ranked = rankCandidates(model, inputs, {
    explorationShare: config.RANKING_EXPLORATION_SHARE, random: Math.random, batchSize: batch,
    offerWindowS: config.OFFER_TIMEOUT_MS / 1000, fallbackReason: FALLBACK_REASON[state],
    historyWindow: windowWords(config.RANKING_HISTORY_MS),
  }).slice().sort((a, b) => a.rank - b.rank);
  const stored = new Map<string, StoredInput>();
  for (const { heroId, ...rest } of inputs) stored.set(heroId, rest);
  const byId = new Map(byEta.map((c) => [c.heroId, c]));
  const out: RankedCandidate[] = ranked.map((r) => {
    let described: OfferRanking | undefined;
    return {
      ...byId.get(r.heroId)!,
      // The reasons are put in words only for heroes who may be offered (withRankings).
      describe: () => (described ??= {
        input: stored.get(r.heroId)!, modelVersion: r.modelVersion, rank: r.rank, explored: r.explored,
        score: r.score ? { pAccept: r.score.pAccept, etaS: r.score.etaS, expectedS: r.score.expectedS } : null,
        why: r.why,
      }),
    };
  });
  const min = config.OFFER_BATCH_CRITICAL;
  const criticalBatch = model && row.severity === 'critical'
    ? batchForTarget(ranked.map((r) => r.score?.pAccept ?? 0), config.RANKING_TARGET_P, min, Math.max(min, config.OFFER_BATCH_CRITICAL_MAX))
    : null;
  return { ranked: out, byEta, inputs: stored, criticalBatch };
}

/**
 * The ranked candidates for insertOffers, the first `max(8, 2 × batch)` with what their
 * offer stores. Postgres offers the first `batch` of them it finds free and skilled,
 * nearly always among those; putting 40 rankings in words and JSON for every round would
 * cost more than scoring them (issue 16: the ranking's budget is 0.2 ms a round).
 * completeRankings covers the rare offer past them.
 */
export function withRankings(ranked: RankedCandidate[], batch: number): Candidate[] {
  const eager = Math.max(8, 2 * batch);
  return ranked.map((c, i) => ({ heroId: c.heroId, distanceKm: c.distanceKm, etaS: c.etaS, ...(i < eager ? { ranking: c.describe() } : {}) }));
}

/** Stores the ranking of offers made past the candidates withRankings described (one statement, only when there are any). */
export async function completeRankings(tx: Tx, offers: OfferRow[], round: RoundRanking): Promise<OfferRow[]> {
  const late = offers.filter((o) => o.rank_input === null);
  if (late.length === 0) return offers;
  const byHero = new Map(round.ranked.map((c) => [c.heroId, c]));
  const rankings = late.flatMap((o) => {
    const c = byHero.get(o.hero_id);
    return c ? [{ offerId: o.id, ranking: c.describe() }] : [];
  });
  await setOfferRankings(tx, rankings);
  return offers;
}

/** One offer as GET /v1/incidents/:id/offers explains it. */
export interface ExplainedOffer {
  id: string; heroId: string; heroName: string | null; slot: number; round: number; state: OfferState; reason: string | null;
  offeredAt: number; expiresAt: number; decidedAt: number | null;
  distanceKm: number; physicsEtaS: number | null;
  modelVersion: string | null; score: OfferScore | null; rank: number | null; explored: boolean | null; why: string[];
  input: StoredRankInput | null;
  features: { name: string; value: number }[] | null;
}

export interface OffersExplanation { incidentId: string; ranking: RankingStatus; offers: ExplainedOffer[]; truncated: boolean }

/** Offers listed at most (a long-escalated incident gathers many rounds). */
const EXPLAINED_MAX = 500;

/**
 * The feature vector an offer was ranked on, by name, extracted again from its stored
 * inputs (storing 21 numbers per candidate would cost a round more than scoring them):
 * with the priors of the model that ranked it while that model is loaded, else with
 * the default priors (extraction is deterministic; only the priors can differ).
 */
function featuresOf(input: StoredRankInput | null, heroId: string, priors: Readonly<Priors>): { name: string; value: number }[] | null {
  if (!input) return null;
  const values = extractFeatures({ heroId, ...input }, priors);
  return FEATURE_NAMES.map((name, i) => ({ name, value: values[i] ?? 0 }));
}

function explainOffer(o: ExplainedOfferRow, loaded: RankingModel | null): ExplainedOffer {
  const parsed = o.rank_input ? storedRankInputSchema.safeParse(o.rank_input) : null;
  const input = parsed?.success ? parsed.data : null;
  return {
    id: o.id, heroId: o.hero_id, heroName: o.hero_name, slot: o.slot, round: o.round, state: o.state, reason: o.reason,
    offeredAt: o.created_at.getTime(), expiresAt: o.expires_at.getTime(), decidedAt: o.decided_at?.getTime() ?? null,
    distanceKm: o.distance_km, physicsEtaS: o.eta_s,
    modelVersion: o.model_version, rank: o.rank, explored: o.explored,
    score: o.score ? { pAccept: o.score.pAccept, etaS: o.score.etaS, expectedS: o.score.expectedS } : null,
    // Offers made before ranking was stored say nothing; they were ranked by ETA.
    why: o.why ?? [],
    input, features: featuresOf(input, o.hero_id, loaded && loaded.version === o.model_version ? priorsOf(loaded) : DEFAULT_PRIORS),
  };
}

/** An incident's offers, each with what it was ranked on and why, for dispatchers. */
export async function explainOffers(ctx: ServiceContext, incidentId: string): Promise<OffersExplanation> {
  const [incident, read] = await Promise.all([getIncident(ctx.sql, incidentId), offersExplained(ctx.sql, incidentId, EXPLAINED_MAX)]);
  if (!incident) throw new AppError('not_found', 'no such incident');
  const service = rankingOf(ctx);
  return { incidentId, ranking: service.status(), offers: read.rows.map((o) => explainOffer(o, service.loaded())), truncated: read.truncated };
}
