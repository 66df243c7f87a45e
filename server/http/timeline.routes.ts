// GET /v1/incidents/:id/timeline: an incident told again for dispatchers, as JSON, as
// GeoJSON (RFC 7946) or as CSV (RFC 4180). `?format=` chooses; without it an Accept of
// application/geo+json or text/csv does. Also the schemas the answer is documented by.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { INCIDENT_STATES, OFFER_STATES } from '../../shared/domain.ts';
import type { ServiceContext } from '../services/context.ts';
import { timelineCsv, timelineGeoJson } from '../services/timeline.formats.ts';
import { incidentTimeline } from '../services/timeline.service.ts';
import { problems } from './problem.ts';
import { auditEvent, incidentParams, incidentView } from './schemas.ts';
import { refusal } from './validation.ts';

const ms = (description: string) => z.number().meta({ description: `${description} (epoch milliseconds)` });
const msOrNull = (description: string) => z.number().nullable().meta({ description });

const AT = 1_760_000_000_000;
const HERO_ID = 'b2f4c6d8-0a1b-4c3d-9e8f-7a6b5c4d3e2f';
const PLACE = { lat: 40.7128, lng: -74.006 };

const member = z.strictObject({ slot: z.number().int(), heroId: z.string() });

export const timelineSchema = z.strictObject({
  incident: incidentView,
  generatedAt: ms('When this answer was read'),
  events: z.array(auditEvent.extend({
    state: z.enum(INCIDENT_STATES).meta({ description: 'The state after this event, replayed through the incident machine.' }),
    members: z.array(member).meta({ description: 'The slots filled after this event, from the same replay.' }),
  })).meta({ description: 'The audit trail, oldest first.' }),
  offers: z.array(z.strictObject({
    id: z.string(),
    heroId: z.string(),
    slot: z.number().int(),
    round: z.number().int(),
    state: z.enum(OFFER_STATES),
    reason: z.string().nullable(),
    offeredAt: ms('Offered at'),
    expiresAt: ms('Its window closes at'),
    decidedAt: msOrNull('Accepted, declined, expired or withdrawn at (epoch ms); null while pending'),
    answerMs: msOrNull('decidedAt − offeredAt'),
    distanceKm: z.number(),
    etaS: z.number().nullable(),
  })).meta({ description: 'Oldest first.' }),
  members: z.array(z.strictObject({
    heroId: z.string(),
    name: z.string().nullable(),
    breadcrumbs: z.array(z.strictObject({ at: ms('Sampled at'), lat: z.number(), lng: z.number() })),
  })).meta({ description: 'Every hero offered or assigned this incident, with their positions from their first offer until they stopped holding it (or now).' }),
  intervals: z.strictObject({
    reportedAt: msOrNull('Reported (epoch ms)'),
    firstOfferAt: msOrNull('First offer sent (epoch ms)'),
    acceptedAt: msOrNull('First member assigned: their accept, or a dispatcher\'s assignment (epoch ms)'),
    enRouteAt: msOrNull('First member en route (epoch ms)'),
    onSceneAt: msOrNull('First member on scene (epoch ms)'),
    resolvedAt: msOrNull('Resolved (epoch ms)'),
    reportToFirstOfferMs: msOrNull('ms'),
    firstOfferToAcceptMs: msOrNull('ms'),
    acceptToEnRouteMs: msOrNull('ms'),
    enRouteToOnSceneMs: msOrNull('ms'),
    onSceneToResolvedMs: msOrNull('ms'),
    reportToResolvedMs: msOrNull('ms'),
  }),
  truncated: z.boolean().meta({ description: 'Events, offers or breadcrumbs were left out (TIMELINE_MAX_EVENTS, _OFFERS, _BREADCRUMBS).' }),
}).meta({
  id: 'Timeline',
  description: 'An incident told again: its trail with the replayed state, its offers, its heroes\' breadcrumbs and its key intervals.',
  examples: [{
    incident: {
      id: '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77', kind: 'fire', severity: 'high', state: 'resolved', location: PLACE, description: 'smoke from a roof',
      needs: [{ skill: null, count: 1 }], reportedBy: 'civ-42', reports: 1, version: 6, createdAt: AT, updatedAt: AT + 600_000, teamEtaAt: null,
      assignments: [{ heroId: HERO_ID, skill: null, state: 'completed', assignedAt: AT + 4_000, slot: 0, progress: 'resolved' }],
      slots: [{ slot: 0, skill: null, heroId: HERO_ID }],
    },
    generatedAt: AT + 900_000,
    events: [
      { seq: 1, type: 'REPORTED', from: null, to: 'reported', actor: 'civilian:civ-42', at: AT, data: { slots: [{ skill: null }], maxRounds: 3 }, state: 'reported', members: [] },
      { seq: 2, type: 'ROUND', from: 'reported', to: 'dispatching', actor: 'system', at: AT + 20, data: { offered: [HERO_ID], radiusKm: 3 }, state: 'dispatching', members: [] },
      { seq: 3, type: 'ASSIGN', from: 'dispatching', to: 'assigned', actor: `hero:${HERO_ID}`, at: AT + 4_000, data: { heroId: HERO_ID, slot: 0, by: 'hero' }, state: 'assigned', members: [{ slot: 0, heroId: HERO_ID }] },
    ],
    offers: [{
      id: 'o-1', heroId: HERO_ID, slot: 0, round: 1, state: 'accepted', reason: null, offeredAt: AT + 20, expiresAt: AT + 15_020,
      decidedAt: AT + 4_000, answerMs: 3_980, distanceKm: 0.8, etaS: 96,
    }],
    members: [{ heroId: HERO_ID, name: 'Captain Blaze', breadcrumbs: [{ at: AT + 25, lat: 40.7128, lng: -73.9968 }, { at: AT + 5_025, lat: 40.7128, lng: -74.0010 }] }],
    intervals: {
      reportedAt: AT, firstOfferAt: AT + 20, acceptedAt: AT + 4_000, enRouteAt: null, onSceneAt: null, resolvedAt: null,
      reportToFirstOfferMs: 20, firstOfferToAcceptMs: 3_980, acceptToEnRouteMs: null, enRouteToOnSceneMs: null, onSceneToResolvedMs: null, reportToResolvedMs: null,
    },
    truncated: false,
  }],
});

const position = z.tuple([z.number(), z.number()]).meta({ description: '[longitude, latitude] (RFC 7946 §3.1.1)' });
export const timelineGeoJsonSchema = z.strictObject({
  type: z.literal('FeatureCollection'),
  features: z.array(z.strictObject({
    type: z.literal('Feature'),
    geometry: z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('Point'), coordinates: position }),
      z.strictObject({ type: z.literal('LineString'), coordinates: z.array(position) }),
    ]).nullable(),
    properties: z.record(z.string(), z.unknown()),
  })),
}).meta({
  id: 'TimelineGeoJson',
  description: 'RFC 7946: the incident (a Point), each member\'s breadcrumbs (a LineString; a Point for one, null for none), '
    + 'each audit event (a Point at the acting hero\'s breadcrumb nearest in time, else at the incident). `properties.record` says which.',
});

export const timelineCsvSchema = z.string().meta({
  description: 'RFC 4180, UTF-8, CRLF: a header row, then one row per incident, event, offer and breadcrumb (`record`). '
    + 'Text starting with = + - @, a tab or CR is prefixed with \' (formula injection).',
});

const FORMATS = ['json', 'geojson', 'csv'] as const;
type Format = (typeof FORMATS)[number];

export const timelineQuery = refusal(z.object({
  format: z.enum(FORMATS).optional().meta({ description: 'json (default), geojson or csv; without it, an Accept of application/geo+json or text/csv chooses.' }),
}), { detail: 'format must be json, geojson or csv' });

const TYPES: Record<Format, string> = { json: 'application/json', geojson: 'application/geo+json', csv: 'text/csv' };

/** The format asked for: the query's, else the first of ours the Accept header names, else JSON. */
function chosen(format: Format | undefined, accept: string | undefined): Format {
  if (format) return format;
  const wanted = (accept ?? '').toLowerCase();
  const geo = wanted.indexOf('application/geo+json');
  const csv = wanted.indexOf('text/csv');
  if (geo >= 0 && (csv < 0 || geo < csv)) return 'geojson';
  return csv >= 0 ? 'csv' : 'json';
}

export const timelineRoutes = (d: { ctx: ServiceContext }): FastifyPluginAsyncZod => async (app) => {
  app.get('/v1/incidents/:id/timeline', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags: ['incidents'], summary: 'Read an incident\'s timeline',
      description: 'Its audit events (each with the state the machine replays after it), its offers with outcomes and answer times, '
        + 'every member\'s breadcrumbs and the key intervals, as JSON, GeoJSON or CSV (`format`, or the Accept header). '
        + 'Reads are capped; `truncated` says when something was left out.',
      params: incidentParams, querystring: timelineQuery,
      response: {
        200: {
          description: 'The timeline, in the format asked for.',
          content: {
            'application/json': { schema: timelineSchema },
            'application/geo+json': { schema: timelineGeoJsonSchema },
            'text/csv': { schema: timelineCsvSchema },
          },
        },
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (req, reply) => {
    const format = chosen(req.query.format, req.headers.accept);
    const timeline = await incidentTimeline(d.ctx.sql, d.ctx.config, req.params.id);
    reply.header('vary', 'accept');
    if (format === 'csv') return reply.type(`${TYPES.csv}; charset=utf-8`).send(timelineCsv(timeline));
    if (format === 'geojson') return reply.type(TYPES.geojson).send(timelineGeoJson(timeline));
    return reply.type(TYPES.json).send(timeline);
  });
};
