// /v1/incidents: report, read, list, audit trail, cancel, and dispatcher overrides.
import type { Redis } from 'ioredis';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { IncidentView, LatLng, TokenClaims } from '../../shared/types.ts';
import { SHED_DETAIL, type Admission } from '../admission.ts';
import { AppError } from '../errors.ts';
import { fixedWindow } from '../ratelimit.ts';
import type { RedisKeys } from '../redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { assignByHand, cancelIncident, reassign } from '../services/override.service.ts';
import type { ReportBatcher } from '../services/report.batcher.ts';
import { idempotencyKeyExists } from '../services/report.service.ts';
import { eventsFor, incidentFor } from '../services/views.ts';
import { incidentEvents, incidentPage, incidentView, isReporter } from '../store/incidents.store.ts';
import { problems, sendProblem } from './problem.ts';
import {
  assignBody, cancelBody, eventsPage, eventsQuery, incidentList, incidentParams, incidentView as incidentSchema, LIST_DEFAULT, listQuery,
  reassignBody, reportBody, reportHeaders,
} from './schemas.ts';

export interface IncidentRouteDeps { ctx: ServiceContext; redis: Redis; keys: RedisKeys; admission: Admission; reports: ReportBatcher }

async function canRead(d: IncidentRouteDeps, who: TokenClaims, incident: IncidentView): Promise<boolean> {
  if (who.role === 'dispatcher') return true;
  if (who.role === 'civilian') return incident.reportedBy === who.sub || isReporter(d.ctx.sql, incident.id, who.sub);
  return incident.assignments.some((a) => a.heroId === who.sub);
}

async function readable(d: IncidentRouteDeps, who: TokenClaims, id: string): Promise<IncidentView> {
  const incident = await incidentView(d.ctx.sql, id);
  if (!incident) throw new AppError('not_found', 'no such incident');
  if (!(await canRead(d, who, incident))) throw new AppError('forbidden', 'not your incident');
  return incident;
}

/**
 * Where a hero was last seen, if Redis answers in time and the ping is fresh: the ETA
 * of a hand assignment. Never fails the assignment (unknown is null).
 */
async function lastSeenAt(d: IncidentRouteDeps, heroId: string): Promise<LatLng | null> {
  const ask = Promise.all([d.redis.geopos(d.keys.positions, heroId), d.redis.hget(d.keys.lastSeen, heroId)]);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), d.ctx.config.REDIS_INTAKE_DEADLINE_MS); });
  try {
    const answer = await Promise.race([ask, late]);
    if (!answer) return null;
    const [[pos], seen] = answer;
    if (!pos || pos[0] === null || pos[1] === null || !seen || Date.now() - Number(seen) > d.ctx.config.LOCATION_FRESH_MS) return null;
    return { lng: Number(pos[0]), lat: Number(pos[1]) };
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    ask.catch(() => {}); // answered late or failed: nobody waits for it any more
  }
}

const tags = ['incidents'];

export const incidentRoutes = (d: IncidentRouteDeps): FastifyPluginAsyncZod => async (app) => {
  const { ctx } = d;

  app.post('/v1/incidents', {
    config: { roles: ['civilian'] },
    schema: {
      tags, summary: 'Report an emergency',
      description: 'Replaying the same Idempotency-Key from the same civilian answers the same incident (200 or 201) and creates nothing; '
        + 'a report of an emergency already open close by may be linked to it (200, v1.1).',
      headers: reportHeaders, body: reportBody,
      response: { 200: incidentSchema, 201: incidentSchema, ...problems(400, 401, 403, 413, 422, 429, 503) },
    },
  }, async (req, reply) => {
    const who = req.claims;
    const key = req.headers['idempotency-key'] as string;
    const input = req.body;
    // A full gate refuses first, answered from here: in a burst most reports end here,
    // and a refusal costs no Redis or Postgres work, no thrown error, no log line.
    const retryAfterS = d.admission.shed(input.severity);
    if (retryAfterS !== null) {
      ctx.metrics.reportsTotal.inc({ outcome: 'shed' });
      return sendProblem(reply, { status: 503, code: 'unavailable', detail: SHED_DETAIL, retryAfterS });
    }
    // A retry of a report already accepted is answered, never throttled. Postgres is
    // asked only once the budget is spent: in a burst every query before the admission
    // gate takes a connection from the reports already admitted.
    const wait = await fixedWindow(d.redis, d.keys.rate('report', who.sub), ctx.config.REPORTS_PER_MINUTE, 60, { deadlineMs: ctx.config.REDIS_INTAKE_DEADLINE_MS, onMiss: (why) => ctx.metrics.redisIntakeMisses.inc({ call: 'report_budget', why }) });
    if (wait > 0 && !(await idempotencyKeyExists(ctx.sql, who.sub, key))) {
      throw new AppError('rate_limited', 'too many reports; try again shortly', { retryAfterS: wait });
    }
    const { created, incident } = await d.admission.run(input.severity, () => d.reports.submit({ civilianId: who.sub, key, input }));
    req.span?.setAttribute('incident.id', incident.id);
    return reply.code(created ? 201 : 200).header('location', `/v1/incidents/${incident.id}`).send(incident);
  });

  app.get('/v1/incidents', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags, summary: 'List incidents', description: 'Newest first, in pages (`limit`, `before`); each page is one snapshot.',
      querystring: listQuery(ctx.config.INCIDENTS_PAGE_MAX), response: { 200: incidentList, ...problems(400, 401, 403, 429, 503) },
    },
  }, async (req) => {
    const { state, before, limit } = req.query;
    const page = await incidentPage(ctx.sql, {
      ...(state ? { states: state } : {}), ...(before !== undefined ? { before } : {}),
      limit: limit ?? Math.min(LIST_DEFAULT, ctx.config.INCIDENTS_PAGE_MAX),
    });
    if (!page) throw new AppError('invalid', 'bad paging parameters: `before` names no incident', { errors: [{ path: 'before', message: 'no such incident' }] });
    return page;
  });

  app.get('/v1/incidents/:id', {
    config: { roles: ['dispatcher', 'civilian', 'hero'] },
    schema: {
      tags, summary: 'Read an incident', description: 'Its reporters, its heroes and dispatchers may read it.',
      params: incidentParams, response: { 200: incidentSchema, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (req) => incidentFor(req.claims, await readable(d, req.claims, req.params.id)));

  app.get('/v1/incidents/:id/events', {
    config: { roles: ['dispatcher', 'civilian'] },
    schema: {
      tags, summary: 'Read the audit trail', description: 'Oldest first, in pages (`after`, `limit`); a civilian reads their own incident\'s, without other civilians\' identities.',
      params: incidentParams, querystring: eventsQuery(ctx.config.EVENTS_PAGE_MAX),
      response: { 200: eventsPage, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (req) => {
    const who = req.claims;
    const { id } = req.params;
    await readable(d, who, id);
    const page = { after: req.query.after ?? 0, limit: req.query.limit ?? ctx.config.EVENTS_PAGE_MAX };
    const { items, next } = await incidentEvents(ctx.sql, id, page);
    return { items: eventsFor(who, items), ...(next !== undefined ? { next } : {}) };
  });

  app.post('/v1/incidents/:id/cancel', {
    config: { roles: ['dispatcher', 'civilian'] },
    schema: {
      tags, summary: 'Cancel an incident', description: 'A civilian withdraws their own report; the incident is cancelled with its last report, or by a dispatcher.',
      params: incidentParams, body: cancelBody, response: { 200: incidentSchema, ...problems(400, 401, 403, 404, 409, 413, 429, 503) },
    },
  }, async (req) => incidentFor(req.claims, await cancelIncident(ctx, req.claims, req.params.id, req.body.reason)));

  app.post('/v1/incidents/:id/assign', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags, summary: 'Assign a hero by hand', description: 'Without `slot`, the hero fills the first open slot whose skill they have.',
      params: incidentParams, body: assignBody, response: { 200: incidentSchema, ...problems(400, 401, 403, 404, 409, 413, 429, 503) },
    },
  }, async (req) => {
    const { heroId, slot } = req.body;
    const location = await lastSeenAt(d, heroId);
    return assignByHand(ctx, req.claims, req.params.id, { heroId, location, ...(slot !== undefined ? { slot } : {}) });
  });

  app.post('/v1/incidents/:id/reassign', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags, summary: 'Release heroes and dispatch again', description: 'With `heroId`, only that member is released.',
      params: incidentParams, body: reassignBody, response: { 200: incidentSchema, ...problems(400, 401, 403, 404, 409, 413, 429, 503) },
    },
  }, async (req) => reassign(ctx, req.claims, req.params.id, req.body.reason, req.body.heroId));
};
