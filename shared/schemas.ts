// Every inbound payload, HTTP body or socket event, is parsed by one of these strict
// schemas before anything else happens. Unknown keys are refused, not ignored.
import { z } from 'zod';
import {
  HERO_MODES, INCIDENT_KINDS, MAX_NEEDED_HEROES, PROGRESS_STATES, SEVERITIES,
} from './domain.ts';
import type { FieldError } from './ack.ts';

/**
 * Text Postgres can store: no NUL character (text and jsonb refuse it) and no lone
 * UTF-16 surrogate (jsonb refuses its escape). Refused at the door, never a 500.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const storable = (s: string): boolean => !s.includes('\u0000') && !LONE_SURROGATE.test(s);
const STORABLE = { message: 'contains a NUL character or malformed unicode' };
const text = (max: number) => z.string().max(max).refine(storable, STORABLE);

/** Ids: 1-100 printable characters (no control characters, well-formed unicode). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const idSchema = z.string().min(1).max(100).regex(/^[^\u0000-\u001f\u007f]+$/, 'contains control characters').refine(storable, STORABLE);
const id = idSchema;

/**
 * The location index (Redis GEO, Web Mercator) cannot hold latitudes beyond this:
 * such a report or ping is refused rather than accepted and never dispatched.
 */
export const MAX_INDEXABLE_LAT = 85.05112878;

export const latLngSchema = z.strictObject({
  lat: z.number().min(-MAX_INDEXABLE_LAT).max(MAX_INDEXABLE_LAT),
  lng: z.number().min(-180).max(180),
});

export const needSchema = z.strictObject({
  skill: text(40).pipe(z.string().min(1)).nullable(),
  count: z.number().int().min(1).max(MAX_NEEDED_HEROES),
});

export const reportSchema = z.strictObject({
  kind: z.enum(INCIDENT_KINDS),
  severity: z.enum(SEVERITIES),
  location: latLngSchema,
  description: text(2000).optional(),
  needs: z.array(needSchema).min(1).max(MAX_NEEDED_HEROES).optional(),
}).refine((r) => (r.needs ?? []).reduce((n, need) => n + need.count, 0) <= MAX_NEEDED_HEROES, {
  message: `at most ${MAX_NEEDED_HEROES} heroes in total`, path: ['needs'],
});
export type ReportInput = z.infer<typeof reportSchema>;

export const idempotencyKeySchema = z.string().min(1).max(200).refine(storable, STORABLE);

export const createHeroSchema = z.strictObject({
  name: text(100).pipe(z.string().min(1)),
  skills: z.array(text(40).pipe(z.string().min(1))).max(20),
  mode: z.enum(HERO_MODES),
});
export type CreateHeroInput = z.infer<typeof createHeroSchema>;

export const reasonSchema = z.strictObject({ reason: text(500).pipe(z.string().min(1)) });
/** `slot` (PROTOCOL v1.1 "Teams"): the slot to fill; without it, the first open slot the hero fits. */
export const assignSchema = z.strictObject({ heroId: id, slot: z.number().int().min(0).max(MAX_NEEDED_HEROES - 1).optional() });
/** `heroId` (v1.1 "Teams"): release only that member; without it, every active member. */
export const reassignSchema = z.strictObject({ reason: text(500).pipe(z.string().min(1)), heroId: id.optional() });

export const dutySchema = z.strictObject({ onDuty: z.boolean() });

export const locationSchema = z.strictObject({
  lat: z.number().min(-MAX_INDEXABLE_LAT).max(MAX_INDEXABLE_LAT),
  lng: z.number().min(-180).max(180),
  at: z.number().int().nonnegative().optional(),
  accuracy: z.number().nonnegative().max(100_000).optional(),
  heading: z.number().min(0).max(360).optional(),
  speed: z.number().nonnegative().max(1_000).optional(),
});
export type LocationInput = z.infer<typeof locationSchema>;

export const offerRefSchema = z.strictObject({ offerId: id });
export const progressSchema = z.strictObject({ incidentId: id, state: z.enum(PROGRESS_STATES) });
export const watchSchema = z.strictObject({ incidentId: id });


/** Turns zod's issues into the contract's `errors` list. */
export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}
