// The zod schemas the HTTP API is described by: request bodies are shared/schemas.ts's
// (with an example added), answers mirror shared/types.ts. Each has a component id for
// the OpenAPI document. Answers are strict: a field the server starts sending without
// documenting it fails the response-conformance check (server/http/conformance.ts).
import { z } from 'zod';
import {
  ASSIGNMENT_STATES, HERO_MODES, HERO_STATUSES, INCIDENT_KINDS, INCIDENT_STATES, MEMBER_PROGRESS, SEVERITIES,
} from '../../shared/domain.ts';
import { assignSchema, createHeroSchema, idempotencyKeySchema, reasonSchema, reassignSchema, reportSchema } from '../../shared/schemas.ts';
import type { HeroView, IncidentEventsPage, IncidentView } from '../../shared/types.ts';
import { pathId } from './params.guard.ts';
import { refusal } from './validation.ts';

const ms = (description: string) => z.number().meta({ description: `${description} (epoch milliseconds)` });

// ---- examples ------------------------------------------------------------------------

const AT = 1_760_000_000_000;
const PLACE = { lat: 52.52, lng: 13.405 };
const HERO_ID = 'b2f4c6d8-0a1b-4c3d-9e8f-7a6b5c4d3e2f';
const INCIDENT_ID = '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77';
const INCIDENT: IncidentView = {
  id: INCIDENT_ID, kind: 'fire', severity: 'high', state: 'assigned', location: PLACE, description: 'smoke from a roof',
  needs: [{ skill: 'fire', count: 1 }], reportedBy: 'civ-42',
  assignments: [{ heroId: HERO_ID, name: 'Captain Blaze', skill: 'fire', state: 'active', assignedAt: AT + 9_000, slot: 0, progress: 'assigned' }],
  slots: [{ slot: 0, skill: 'fire', heroId: HERO_ID }], teamEtaAt: AT + 309_000, reports: 1, version: 4, createdAt: AT, updatedAt: AT + 9_000,
};
const HERO: HeroView = { id: HERO_ID, name: 'Captain Blaze', skills: ['fire', 'rescue'], mode: 'air', onDuty: true, status: 'available', location: PLACE, lastSeenAt: AT };
const EVENTS: IncidentEventsPage = {
  items: [
    { seq: 1, type: 'REPORTED', from: null, to: 'reported', actor: 'civilian:civ-42', at: AT, data: { severity: 'high' } },
    { seq: 2, type: 'DISPATCH', from: 'reported', to: 'dispatching', actor: 'system', at: AT + 40, data: {} },
  ],
  next: 2,
};

// ---- answers -------------------------------------------------------------------------

export const locationView = z.strictObject({ lat: z.number(), lng: z.number() }).meta({ id: 'Location', description: 'WGS-84 degrees.' });

const assignmentView = z.strictObject({
  heroId: z.string(),
  name: z.string().optional().meta({ description: 'The member\'s display name (extension).' }),
  skill: z.string().nullable(),
  state: z.enum(ASSIGNMENT_STATES),
  assignedAt: ms('When the member was assigned'),
  slot: z.number().int().meta({ description: 'The slot this member fills (v1.1 Teams).' }),
  progress: z.enum(MEMBER_PROGRESS),
});

export const incidentView = z.strictObject({
  id: z.string(),
  kind: z.enum(INCIDENT_KINDS),
  severity: z.enum(SEVERITIES),
  state: z.enum(INCIDENT_STATES),
  location: locationView,
  description: z.string(),
  needs: z.array(z.strictObject({ skill: z.string().nullable(), count: z.number().int() })),
  reportedBy: z.string().meta({ description: 'The reporter; `(hidden)` to another civilian whose report was linked.' }),
  assignments: z.array(assignmentView),
  slots: z.array(z.strictObject({ slot: z.number().int(), skill: z.string().nullable(), heroId: z.string().nullable() })),
  teamEtaAt: z.number().nullable().meta({ description: 'When the whole team should be on scene (extension); null while a slot is open or an ETA is unknown.' }),
  reports: z.number().int().meta({ description: 'How many reports stand on it (v1.1 Linked reports).' }),
  version: z.number().int(),
  createdAt: ms('Reported at'),
  updatedAt: ms('Last changed at'),
}).meta({ id: 'Incident', description: 'An incident (PROTOCOL "HTTP" and v1.1).', examples: [INCIDENT] });

export const incidentList = z.strictObject({
  items: z.array(incidentView),
  next: z.string().optional().meta({ description: 'While more remain: the `before` of the next page (extension).' }),
}).meta({ id: 'IncidentList', description: 'A page of incidents, newest first (1,000 unless `limit` says otherwise).', examples: [{ items: [INCIDENT] }] });

/** One audit event as the trail and the timeline serve it. */
export const auditEvent = z.strictObject({
  seq: z.number().int().meta({ description: 'Counts from 1 per incident.' }),
  type: z.string(),
  from: z.enum(INCIDENT_STATES).nullable(),
  to: z.enum(INCIDENT_STATES),
  actor: z.string(),
  at: ms('When it happened'),
  data: z.record(z.string(), z.unknown()),
});

export const eventsPage = z.strictObject({
  items: z.array(auditEvent),
  next: z.number().int().optional().meta({ description: 'The `after` of the next page, while more remain.' }),
}).meta({ id: 'AuditTrailPage', description: 'A page of the audit trail, oldest first.', examples: [EVENTS] });

export const heroView = z.strictObject({
  id: z.string(),
  name: z.string(),
  skills: z.array(z.string()),
  mode: z.enum(HERO_MODES),
  onDuty: z.boolean(),
  status: z.enum(HERO_STATUSES),
  location: locationView.optional(),
  lastSeenAt: ms('Last position ping').optional(),
}).meta({ id: 'Hero', description: 'A registered hero.', examples: [HERO] });

// ---- requests ------------------------------------------------------------------------

export const reportBody = reportSchema.meta({
  id: 'NewReport',
  examples: [{ kind: 'fire', severity: 'high', location: PLACE, description: 'smoke from a roof', needs: [{ skill: 'fire', count: 1 }] }],
});
export const heroBody = createHeroSchema.meta({ id: 'NewHero', examples: [{ name: 'Captain Blaze', skills: ['fire', 'rescue'], mode: 'air' }] });
export const cancelBody = reasonSchema.meta({ id: 'Cancel', examples: [{ reason: 'false alarm' }] });
export const assignBody = assignSchema.meta({ id: 'Assign', examples: [{ heroId: HERO_ID, slot: 0 }] });
export const reassignBody = reassignSchema.meta({ id: 'Reassign', examples: [{ reason: 'hero stuck in traffic', heroId: HERO_ID }] });

export const incidentParams = z.strictObject({ id: pathId('The incident id.') });
export const heroParams = z.strictObject({ id: pathId('The hero id.') });

export const reportHeaders = refusal(z.looseObject({
  'idempotency-key': idempotencyKeySchema.meta({
    description: '1-200 characters, the same on every retry of this report.', examples: ['5f0c1e9a-report-1'],
  }),
}), { code: 'missing_idempotency_key', detail: 'send an Idempotency-Key header (1-200 characters), the same on every retry of this report' });

const stateList = new RegExp(`^\\s*(${INCIDENT_STATES.join('|')})\\s*(,\\s*(${INCIDENT_STATES.join('|')})\\s*)*$`);
/** Unknown states, named in the refusal's detail. */
function unknownStates(query: unknown): string {
  const raw = (query as { state?: unknown } | null)?.state;
  const bad = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => !(INCIDENT_STATES as readonly string[]).includes(s)) : [];
  return `unknown state(s): ${bad.join(', ') || String(raw)}`;
}

/** The dispatcher's list in pages (an extension, see README): at most `pageMax` a page. */
export const listQuery = (pageMax: number) => refusal(z.object({
  state: z.string({ error: `expected one of ${INCIDENT_STATES.join(', ')}` })
    .refine((s) => s === '' || stateList.test(s), { message: `expected one of ${INCIDENT_STATES.join(', ')}` })
    .transform((s) => (s === '' ? undefined : s.split(',').map((x) => x.trim()) as (typeof INCIDENT_STATES)[number][]))
    .optional()
    .meta({ description: 'A comma-separated list of states to keep.', examples: ['dispatching,escalated'] }),
  limit: pageNumber(1, pageMax, `At most this many (default ${Math.min(LIST_DEFAULT, pageMax)})`),
  before: pathId('Incidents older than this one: the previous page\'s `next`.').optional(),
}), { detail: listRefusal });

/** Unknown states are named; anything else is a paging parameter. */
function listRefusal(query: unknown): string {
  const raw = (query as { state?: unknown } | null)?.state;
  const bad = typeof raw === 'string' && raw !== '' && !stateList.test(raw);
  return bad || (raw !== undefined && typeof raw !== 'string') ? unknownStates(query) : 'bad paging parameters';
}

/** The list's page when no `limit` is asked: what it always was. */
export const LIST_DEFAULT = 1000;

// The audit trail is read in pages (an extension, see README): at most EVENTS_PAGE_MAX
// events after `after` (a seq), oldest first.
const SEQ = /^(0|[1-9][0-9]{0,8})$/;
const pageNumber = (min: number, max: number, description: string) => {
  const error = `expected one integer from ${min} to ${max}`;
  return z.string({ error }).regex(SEQ, { error }).transform(Number).pipe(z.number().min(min, { error }).max(max, { error }))
    .optional().meta({ description: `${description}: an integer from ${min} to ${max}.` });
};
export const eventsQuery = (pageMax: number) => refusal(z.object({
  after: pageNumber(0, 999_999_999, 'Events after this seq (default 0)'),
  limit: pageNumber(1, pageMax, `At most this many (default ${pageMax})`),
}), { detail: 'bad paging parameters' });

