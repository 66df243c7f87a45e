// GET /v1/incidents/:id/offers: every offer of an incident with why its hero was asked
// (issue 16): the model's version and score, the hero's rank in the round, whether the
// offer was the round's exploration pick, the top reasons in words and the features the
// ranking read. For dispatchers; the console's "why this hero" reads it.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HERO_MODES, INCIDENT_KINDS, OFFER_STATES, SEVERITIES } from '../../shared/domain.ts';
import type { ServiceContext } from '../services/context.ts';
import { explainOffers, RANKING_STATES } from '../services/ranking.service.ts';
import { problems } from './problem.ts';
import { incidentParams } from './schemas.ts';

const ms = (description: string) => z.number().meta({ description: `${description} (epoch milliseconds)` });

const AT = 1_760_000_000_000;
const HERO_ID = 'b2f4c6d8-0a1b-4c3d-9e8f-7a6b5c4d3e2f';

const history = z.strictObject({
  offers: z.number(), accepts: z.number(), declines: z.number(), ignores: z.number(),
  answerMsSum: z.number(), etaRatioSum: z.number(), arrivals: z.number(),
}).meta({ description: 'The hero\'s answers and arrivals over RANKING_HISTORY_MS when ranked (kept by the outbox).' });

const input = z.strictObject({
  distanceKm: z.number(), mode: z.enum(HERO_MODES), physicsEtaS: z.number(), severity: z.enum(SEVERITIES), kind: z.enum(INCIDENT_KINDS),
  at: ms('The round'),
  history: history.nullable().meta({ description: 'null: a new hero, ranked on the priors (never a penalty).' }),
  activeLoad: z.number(), recentOffers1h: z.number(), skillMatch: z.union([z.literal(0), z.literal(1)]),
}).meta({ description: 'What the round knew about the hero (server/ranking/features.ts RankInput).' });

export const offersExplainedSchema = z.strictObject({
  incidentId: z.string(),
  ranking: z.strictObject({
    state: z.enum(RANKING_STATES), mode: z.enum(['learned', 'distance']), path: z.string(), version: z.string().nullable(),
    trainedAt: z.string().nullable(), ageMs: z.number().nullable(), error: z.string().nullable(), loadedAt: z.number().nullable(),
  }).meta({ description: 'The ranking in force in this process now (as in /readyz).' }),
  offers: z.array(z.strictObject({
    id: z.string(),
    heroId: z.string(),
    heroName: z.string().nullable(),
    slot: z.number().int(),
    round: z.number().int(),
    state: z.enum(OFFER_STATES),
    reason: z.string().nullable(),
    offeredAt: ms('Offered at'),
    expiresAt: ms('Its window closes at'),
    decidedAt: z.number().nullable().meta({ description: 'Accepted, declined, expired or withdrawn at (epoch ms); null while pending' }),
    distanceKm: z.number(),
    physicsEtaS: z.number().nullable().meta({ description: 'Today\'s ETA (distance, mode, detour), seconds.' }),
    modelVersion: z.string().nullable().meta({ description: 'The model that ranked the offer; null when today\'s ETA order did.' }),
    score: z.strictObject({
      pAccept: z.number().meta({ description: 'P(the hero accepts within the window)' }),
      etaS: z.number().meta({ description: 'The physics ETA corrected by the model, seconds' }),
      expectedS: z.number().meta({ description: 'Expected seconds to an accepted arrival: the hero\'s mean time to answer + etaS + (1 − p) / p × the offer window; ranked ascending' }),
    }).nullable(),
    rank: z.number().int().nullable().meta({ description: 'The hero\'s place among the round\'s candidates (1 = asked first); for a team, among the slot\'s picks.' }),
    explored: z.boolean().nullable().meta({ description: 'The round\'s exploration pick: a lower-ranked hero asked at random, so that nobody is starved of offers.' }),
    why: z.array(z.string()).meta({ description: 'The top reasons in words, or why the fallback ranked ("nearest by ETA (…)").' }),
    input: input.nullable(),
    features: z.array(z.strictObject({ name: z.string(), value: z.number() })).nullable()
      .meta({ description: 'The feature vector, in FEATURE_NAMES order, extracted from `input` (with the priors of the model that ranked the offer while it is loaded).' }),
  })).meta({ description: 'Round by round, best-ranked first.' }),
  truncated: z.boolean().meta({ description: 'More offers than the answer lists (500).' }),
}).meta({
  id: 'OffersExplained',
  description: 'An incident\'s offers, each with why its hero was asked.',
  examples: [{
    incidentId: '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77',
    ranking: {
      state: 'learned', mode: 'learned', path: 'server/ranking/model.json', version: 'acceptance-logreg-2025-10-09T08:00:00Z',
      trainedAt: '2025-10-09T08:00:00Z', ageMs: 3_600_000, error: null, loadedAt: AT,
    },
    offers: [{
      id: 'o-1', heroId: HERO_ID, heroName: 'Captain Blaze', slot: 0, round: 1, state: 'accepted', reason: null,
      offeredAt: AT, expiresAt: AT + 15_000, decidedAt: AT + 4_000, distanceKm: 0.8, physicsEtaS: 81,
      modelVersion: 'acceptance-logreg-2025-10-09T08:00:00Z', score: { pAccept: 0.86, etaS: 95, expectedS: 97.4 }, rank: 1, explored: false,
      why: ['close: 0.8 km by ground, arrives in ~1.6 min (P(accept) 86%)', 'accepts often (9 of 10 offers in 7 days)'],
      input: {
        distanceKm: 0.8, mode: 'ground', physicsEtaS: 81, severity: 'high', kind: 'fire', at: AT,
        history: { offers: 10, accepts: 9, declines: 1, ignores: 0, answerMsSum: 30_000, etaRatioSum: 4.4, arrivals: 4 },
        activeLoad: 0, recentOffers1h: 1, skillMatch: 1,
      },
      features: [{ name: 'distance_km', value: 0.8 }, { name: 'accept_rate', value: 0.786 }],
    }],
    truncated: false,
  }],
});

export const offerRoutes = (d: { ctx: ServiceContext }): FastifyPluginAsyncZod => async (app) => {
  app.get('/v1/incidents/:id/offers', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags: ['incidents'], summary: 'Read an incident\'s offers, with why each hero was asked',
      description: 'Every offer with its hero, slot, round, state and times, the distance and physics ETA, and how it was ranked: '
        + 'the model\'s version and score (P(accept), corrected ETA, expected time to an accepted arrival), the rank, whether it was '
        + 'an exploration pick, the top reasons in words and the features. Offers ranked by today\'s ETA order say so.',
      params: incidentParams,
      response: {
        200: offersExplainedSchema,
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (req) => explainOffers(d.ctx, req.params.id));
};
