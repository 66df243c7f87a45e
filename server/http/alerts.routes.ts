// Public alerts (OASIS CAP 1.2): the feed and each message, open to anyone without a
// token (a public warning is public), and a dispatcher's mark and unmark of an incident
// for public warning (an extension of the contract; see README).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { storable } from '../../shared/schemas.ts';
import { ALERT_TRIGGERS } from '../standards/cap.mapping.ts';
import { buildCapAlert, CAP_MEDIA_TYPE, CAP_MSG_TYPES } from '../standards/cap.builder.ts';
import { ATOM_MEDIA_TYPE, buildCapFeed } from '../standards/cap.feed.ts';
import type { ServiceContext } from '../services/context.ts';
import { capDocument, capFeed, markPublicWarning, type PublicAlertView, unmarkPublicWarning } from '../services/public-alerts.service.ts';
import { pathId } from './params.guard.ts';
import { problems } from './problem.ts';
import { incidentParams } from './schemas.ts';

// ---- examples: real output of the builders ---------------------------------------------

const AT = new Date(1_760_000_000_000);
const ALERT_ID = '6f1d2c3b-4a5e-4f60-8a71-b2c3d4e5f601';
const EXAMPLE_INFO = {
  categories: ['Fire' as const], event: 'Fire', responseType: 'Avoid' as const, urgency: 'Immediate' as const, severity: 'Severe' as const,
  certainty: 'Observed' as const, headline: 'Fire warning near 52.5200, 13.4050', description: 'A high fire near 52.5200, 13.4050 is being handled by emergency services.',
  instruction: 'Keep away from the area. If smoke reaches you, stay indoors and close windows and doors.',
  areaDesc: 'Within 1 km of 52.5200, 13.4050', circle: { lat: 52.52, lng: 13.405, radiusKm: 1 },
};
const CAP_EXAMPLE = buildCapAlert({
  identifier: `${ALERT_ID}.2`, sender: 'dispatch@superhero.example', sent: new Date(AT.getTime() + 60_000), msgType: 'Update',
  references: [{ sender: 'dispatch@superhero.example', identifier: `${ALERT_ID}.1`, sent: AT }], info: EXAMPLE_INFO,
});
const FEED_EXAMPLE = buildCapFeed({
  sender: 'dispatch@superhero.example', now: AT,
  entries: [{ alertId: ALERT_ID, identifier: `${ALERT_ID}.2`, msgType: 'Update', sent: new Date(AT.getTime() + 60_000), headline: EXAMPLE_INFO.headline, areaDesc: EXAMPLE_INFO.areaDesc }],
});
const VIEW_EXAMPLE: PublicAlertView = {
  id: ALERT_ID, trigger: 'warning', incidentId: '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77', state: 'active', msgType: 'Alert',
  identifier: `${ALERT_ID}.1`, url: `/v1/alerts/cap/${ALERT_ID}.1`, sentAt: AT.getTime(), messages: 1, headline: EXAMPLE_INFO.headline,
  area: { description: EXAMPLE_INFO.areaDesc, lat: 52.52, lng: 13.405, radiusKm: 1 },
};

// ---- schemas ---------------------------------------------------------------------------------

// Words the public will read: no control characters but tab and newline, storable text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const words = (max: number, description: string) => z.string().trim().min(1).max(max)
  .refine((s) => !CONTROL.test(s) && storable(s), { message: 'contains control characters or malformed unicode' })
  .optional().meta({ description });

const warningBody = z.strictObject({
  headline: words(200, 'What the public reads first (default: "<event> warning near <place>").'),
  instruction: words(1_000, 'What the public should do (default: by the incident\'s kind).'),
  radiusKm: z.number().positive().max(50).optional().meta({ description: 'The warned circle around the incident, km (default CAP_WARNING_RADIUS_KM).' }),
}).meta({ id: 'PublicWarning', examples: [{ headline: 'Large fire near the central station', instruction: 'Keep windows closed.', radiusKm: 1.5 }] });

const alertView = z.strictObject({
  id: z.string().meta({ description: 'The alert: every message of it shares this id.' }),
  trigger: z.enum(ALERT_TRIGGERS),
  incidentId: z.string().meta({ description: 'The warned incident (for a burst: its first incident).' }),
  state: z.enum(['active', 'cancelled']),
  msgType: z.enum(CAP_MSG_TYPES).meta({ description: 'The latest message\'s CAP msgType.' }),
  identifier: z.string().meta({ description: 'The latest message\'s CAP identifier.' }),
  url: z.string().meta({ description: 'Where the latest message is served (public).' }),
  sentAt: z.number().meta({ description: 'When the latest message was sent (epoch milliseconds, whole seconds).' }),
  messages: z.number().int(),
  headline: z.string(),
  area: z.strictObject({ description: z.string(), lat: z.number(), lng: z.number(), radiusKm: z.number() }),
}).meta({ id: 'PublicAlert', description: 'A public alert (OASIS CAP 1.2) and its latest message.', examples: [VIEW_EXAMPLE] });

const messageParams = z.strictObject({ id: pathId('A message\'s CAP identifier (`<alert id>.<n>`).') });

const xml = (type: string, description: string, example: string) => ({ description, content: { [type]: { schema: z.string().meta({ examples: [example] }) } } });

const tags = ['alerts'];
/** Messages never change once sent: caches may keep them. */
const MESSAGE_MAX_AGE_S = 300;

export const alertRoutes = (d: { ctx: ServiceContext }): FastifyPluginAsyncZod => async (app) => {
  const { ctx } = d;

  // Public, so built at most once per CAP_FEED_CACHE_MS per process, and reads arriving
  // while it is built share the build.
  let cached: { xml: string; at: number } | undefined;
  let building: Promise<string> | undefined;
  const feed = (): Promise<string> => {
    const cacheMs = ctx.config.CAP_FEED_CACHE_MS;
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.xml);
    building ??= (async () => {
      const at = Date.now();
      try {
        const text = await capFeed(ctx);
        cached = { xml: text, at };
        return text;
      } finally {
        building = undefined;
      }
    })();
    return building;
  };

  app.get('/v1/alerts/cap', {
    schema: {
      tags, summary: 'The public alert feed (Atom)',
      description: 'Public, no token. An Atom feed (RFC 4287) of the current public alerts, newest first, at most CAP_FEED_MAX: '
        + 'each entry is one alert and links (relative to this URL) to its latest OASIS CAP 1.2 message. Cancelled alerts stay '
        + 'listed for CAP_FEED_CANCELLED_MS, showing their Cancel.',
      response: { 200: xml(ATOM_MEDIA_TYPE, 'The feed.', FEED_EXAMPLE), ...problems(503) },
    },
  }, async (_req, reply) => {
    const text = await feed();
    return reply.type(`${ATOM_MEDIA_TYPE}; charset=utf-8`).header('cache-control', `public, max-age=${Math.ceil(ctx.config.CAP_FEED_CACHE_MS / 1000)}`).send(text);
  });

  app.get('/v1/alerts/cap/:id', {
    schema: {
      tags, summary: 'One public alert message (OASIS CAP 1.2)',
      description: 'Public, no token. The CAP 1.2 document exactly as it was sent; it never changes.',
      params: messageParams,
      response: { 200: xml(CAP_MEDIA_TYPE, 'A CAP 1.2 alert message, valid against the OASIS schema.', CAP_EXAMPLE), ...problems(400, 404, 503) },
    },
  }, async (req, reply) => {
    const document = await capDocument(ctx, req.params.id);
    return reply.type(`${CAP_MEDIA_TYPE}; charset=utf-8`).header('cache-control', `public, max-age=${MESSAGE_MAX_AGE_S}`).send(document);
  });

  app.post('/v1/incidents/:id/public-warning', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags, summary: 'Mark an incident for public warning',
      description: 'Raises a public alert (CAP msgType Alert, 201) around the incident; marking it again updates the alert '
        + '(msgType Update, 200). The alert is cancelled when the mark is withdrawn or the incident ends.',
      params: incidentParams, body: warningBody,
      response: { 200: alertView, 201: alertView, ...problems(400, 401, 403, 404, 409, 413, 429, 503) },
    },
  }, async (req, reply) => {
    const { created, alert } = await markPublicWarning(ctx, req.claims, req.params.id, req.body);
    return reply.code(created ? 201 : 200).header('location', alert.url).send(alert);
  });

  app.delete('/v1/incidents/:id/public-warning', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags, summary: 'Withdraw an incident\'s public warning',
      description: 'Cancels the alert (CAP msgType Cancel). 404 when the incident has no live warning.',
      params: incidentParams,
      response: { 200: alertView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (req) => unmarkPublicWarning(ctx, req.claims, req.params.id));
};
