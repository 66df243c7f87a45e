// /v1/incidents: report, read, list, audit trail, cancel, and dispatcher overrides.
import { INCIDENT_STATES, type IncidentState } from '../../shared/domain.ts';
import { assignSchema, idempotencyKeySchema, reasonSchema, reassignSchema, reportSchema } from '../../shared/schemas.ts';
import type { LatLng, TokenClaims } from '../../shared/types.ts';
import { requireRole, type Auth } from '../auth.ts';
import { AppError } from '../errors.ts';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis.ts';
import { fixedWindow } from '../ratelimit.ts';
import type { ServiceContext } from '../services/context.ts';
import { assignByHand, cancelIncident, reassign } from '../services/override.service.ts';
import { idempotencyKeyExists, reportIncident } from '../services/report.service.ts';
import { incidentEvents, incidentView, incidentViews, isReporter, listIncidents } from '../store/incidents.store.ts';
import { eventsFor, incidentFor } from '../services/views.ts';
import type { IncidentView } from '../../shared/types.ts';
import { body, identify } from './parse.ts';
import type { Router } from './router.ts';
import type { Admission } from '../admission.ts';

export interface IncidentRouteDeps { ctx: ServiceContext; auth: Auth; redis: Redis; keys: RedisKeys; admission: Admission }

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

function parseStates(raw: string | null): IncidentState[] | undefined {
  if (raw === null || raw === '') return undefined;
  const states = raw.split(',').map((s) => s.trim());
  const bad = states.filter((s) => !(INCIDENT_STATES as readonly string[]).includes(s));
  if (bad.length) throw new AppError('invalid', `unknown state(s): ${bad.join(', ')}`, { errors: [{ path: 'state', message: `expected one of ${INCIDENT_STATES.join(', ')}` }] });
  return states as IncidentState[];
}

// The audit trail is read in pages (an extension, see README): at most EVENTS_PAGE_MAX
// events after `after` (a seq), oldest first; `next` is the `after` of the next page.
const SEQ = /^(0|[1-9][0-9]{0,8})$/;

function parseEventsPage(query: URLSearchParams, max: number): { after: number; limit: number } {
  const errors: { path: string; message: string }[] = [];
  const read = (name: string, min: number, top: number, fallback: number): number => {
    const all = query.getAll(name);
    if (all.length === 0) return fallback;
    const n = all.length === 1 && SEQ.test(all[0]!) ? Number(all[0]) : NaN;
    if (Number.isInteger(n) && n >= min && n <= top) return n;
    errors.push({ path: name, message: `expected one integer from ${min} to ${top}` });
    return fallback;
  };
  const page = { after: read('after', 0, 999_999_999, 0), limit: read('limit', 1, max, max) };
  if (errors.length) throw new AppError('invalid', 'bad paging parameters', { errors });
  return page;
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

export function incidentRoutes(router: Router, d: IncidentRouteDeps): void {
  const { ctx, auth } = d;

  router.add('POST', '/v1/incidents', async (req) => {
    const who = await identify(auth, req);
    requireRole(who, 'civilian');
    const key = idempotencyKeySchema.safeParse(req.headers['idempotency-key']);
    if (!key.success) throw new AppError('missing_idempotency_key', 'send an Idempotency-Key header (1-200 characters), the same on every retry of this report');
    const input = await body(req, reportSchema);
    // A retry of a report already accepted is answered, never throttled. Postgres is
    // asked only once the budget is spent: in a burst every query before the admission
    // gate takes a connection from the reports already admitted.
    const wait = await fixedWindow(d.redis, d.keys.rate('report', who.sub), ctx.config.REPORTS_PER_MINUTE, 60, { deadlineMs: ctx.config.REDIS_INTAKE_DEADLINE_MS, onMiss: (why) => ctx.metrics.redisIntakeMisses.inc({ call: 'report_budget', why }) });
    if (wait > 0 && !(await idempotencyKeyExists(ctx.sql, who.sub, key.data))) {
      throw new AppError('rate_limited', 'too many reports; try again shortly', { retryAfterS: wait });
    }
    const { created, incident } = await d.admission.run(input.severity, () => reportIncident(ctx, who.sub, key.data, input));
    return { status: created ? 201 : 200, body: incident, headers: { location: `/v1/incidents/${incident.id}` } };
  });

  router.add('GET', '/v1/incidents', async (req) => {
    requireRole(await identify(auth, req), 'dispatcher');
    const states = parseStates(req.query.get('state'));
    const rows = await listIncidents(ctx.sql, { ...(states ? { states } : {}), limit: 1000 });
    return { status: 200, body: { items: await incidentViews(ctx.sql, rows) } };
  });

  router.add('GET', '/v1/incidents/:id', async (req) => {
    const who = await identify(auth, req);
    return { status: 200, body: incidentFor(who, await readable(d, who, req.params.id!)) };
  });

  router.add('GET', '/v1/incidents/:id/events', async (req) => {
    const who = await identify(auth, req);
    requireRole(who, 'dispatcher', 'civilian');
    const page = parseEventsPage(req.query, ctx.config.EVENTS_PAGE_MAX);
    await readable(d, who, req.params.id!);
    const { items, next } = await incidentEvents(ctx.sql, req.params.id!, page);
    return { status: 200, body: { items: eventsFor(who, items), ...(next !== undefined ? { next } : {}) } };
  });

  router.add('POST', '/v1/incidents/:id/cancel', async (req) => {
    const who = await identify(auth, req);
    requireRole(who, 'dispatcher', 'civilian');
    const { reason } = await body(req, reasonSchema);
    return { status: 200, body: incidentFor(who, await cancelIncident(ctx, who, req.params.id!, reason)) };
  });

  router.add('POST', '/v1/incidents/:id/assign', async (req) => {
    const who = await identify(auth, req);
    requireRole(who, 'dispatcher');
    const { heroId, slot } = await body(req, assignSchema);
    const location = await lastSeenAt(d, heroId);
    return { status: 200, body: await assignByHand(ctx, who, req.params.id!, { heroId, location, ...(slot !== undefined ? { slot } : {}) }) };
  });

  router.add('POST', '/v1/incidents/:id/reassign', async (req) => {
    const who = await identify(auth, req);
    requireRole(who, 'dispatcher');
    const { reason, heroId } = await body(req, reassignSchema);
    return { status: 200, body: await reassign(ctx, who, req.params.id!, reason, heroId) };
  });
}
