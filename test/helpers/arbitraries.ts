// fast-check arbitraries for the hostile-input suite: odd strings and numbers, prototype
// keys, deep nesting, and (the most effective kind) valid payloads with exactly one
// thing changed.
import fc from 'fast-check';
import { HERO_MODES, INCIDENT_KINDS, PROGRESS_STATES, SEVERITIES } from '../../shared/domain.ts';

/** Strings a careless server mishandles: control characters, unicode edge cases, injection shapes. */
export const ODD_STRINGS: readonly string[] = [
  '', ' ', '\u0000', 'a\u0000b', '\u0000'.repeat(10), '\u0001\u0002\u001f\u007f', '\t\r\n', '\u0085\u2028\u2029',
  '\ud800', '\udc00', 'x\ud83d', '\ude91x', '\udbff\udbff', '🚑', '🚑'.repeat(50), '👩‍👩‍👧‍👦', '\u202eevil\u202c', 'مرحبا بالعالم',
  '\u200b\u200d\ufeff', '\ufffe\uffff', 'Z̸̢̛̤a̵̧̜l̷̠̈g̶̣̊o̵̯͝', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  'null', 'undefined', 'NaN', '-0', '1e308', '0x10', '  1 ', 'true', '[]', '{}', '%00', '%ZZ', '%E0%A4%A', '%2e%2e%2f',
  "'; drop table incidents; --", '$1', '${7*7}', '{{7*7}}', '<script>alert(1)</script>', '../../../etc/passwd', '..', '.',
  '\\', '/', '?', '#', '\u00e9', 'e\u0301',
];

/** Lengths just under and over every limit in shared/schemas.ts, and beyond. */
const LIMIT_LENGTHS = [39, 40, 41, 99, 100, 101, 199, 200, 201, 499, 500, 501, 1999, 2000, 2001, 4097, 20_000];
const longString = fc.tuple(fc.constantFrom(...LIMIT_LENGTHS), fc.constantFrom('x', 'é', '🚑', '\u0000', 'a\ud800'))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...ODD_STRINGS), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }), weight: 1 },
  { arbitrary: fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', 'a', '\u202e', '\u0007'), maxLength: 12 }), weight: 2 },
  { arbitrary: longString, weight: 1 },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0, -0, 1, -1, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1,
    -Number.MAX_SAFE_INTEGER - 2, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 85.05112878, 85.05112879, -85.05112879, 86, -90, 90, 90.0000001,
    180, 180.0000001, -180.0000001, 360, 361, 0.1 + 0.2, 1.5, 10, 11, 100_000, 100_001, 1_000, 1_001,
  ),
  fc.double(), // includes NaN and ±Infinity, which JSON sends as null
  fc.integer(),
);

/** Anything JSON (or Socket.IO) can carry, with odd leaves and prototype-shaped keys. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '', '\u0000', 'lat', 'offerId', 'id', 'role'),
  fc.string({ maxLength: 8 }),
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.constant(undefined),
  fc.constantFrom('NaN', 'Infinity', '-0', '1e308', '9007199254740993'),
);

/** An object whose own keys include `__proto__`, as JSON.parse builds it (a plain literal would set the prototype). */
export const protoObject: fc.Arbitrary<unknown> = fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.jsonValue({ maxDepth: 2 }))
  .map(([key, value]) => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value ?? null)}}`));

export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { arbitrary: leaf, weight: 6 },
    { arbitrary: fc.array(tie('value'), { maxLength: 4 }), weight: 1 },
    { arbitrary: fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }), weight: 1 },
    { arbitrary: protoObject, weight: 1 },
  ),
})).value;

/** 150-250 levels of arrays or objects. */
export const deepNesting: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 150, max: 250 }), fc.boolean()).map(([depth, arrays]) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i += 1) v = arrays ? [v] : { a: v };
  return v;
});

// --- valid payloads ---------------------------------------------------------------

const lat = fc.double({ min: -85.05112878, max: 85.05112878, noNaN: true });
const lng = fc.double({ min: -180, max: 180, noNaN: true });
const plainText = (max: number) => fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: max });

export const validReport = (at?: { lat: number; lng: number }) => fc.record({
  kind: fc.constantFrom(...INCIDENT_KINDS),
  severity: fc.constantFrom(...SEVERITIES),
  location: at ? fc.constant({ ...at }) : fc.record({ lat, lng }),
  description: plainText(60),
  needs: fc.array(fc.record({ skill: fc.option(plainText(10), { nil: null }), count: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 3 }),
}, { requiredKeys: ['kind', 'severity', 'location'] });

export const validHero = fc.record({
  name: plainText(30),
  skills: fc.array(plainText(10), { maxLength: 3 }),
  mode: fc.constantFrom(...HERO_MODES),
});

export const validReason = fc.record({ reason: plainText(40) });
export const validReassign = (heroIds: string[]) => fc.record({ reason: plainText(40), heroId: fc.constantFrom(...heroIds) }, { requiredKeys: ['reason'] });
export const validAssign = (heroIds: string[]) => fc.record({ heroId: fc.constantFrom(...heroIds), slot: fc.nat({ max: 10 }) }, { requiredKeys: ['heroId'] });
export const validDuty = fc.record({ onDuty: fc.boolean() });
export const validLocation = fc.record({
  lat, lng,
  at: fc.nat(), accuracy: fc.double({ min: 0, max: 100_000, noNaN: true }),
  heading: fc.double({ min: 0, max: 360, noNaN: true }), speed: fc.double({ min: 0, max: 1_000, noNaN: true }),
}, { requiredKeys: ['lat', 'lng'] });
export const validOfferRef = (offerIds: string[]) => fc.record({ offerId: fc.constantFrom(...offerIds) });
export const validProgress = (incidentIds: string[]) => fc.record({
  incidentId: fc.constantFrom(...incidentIds), state: fc.constantFrom(...PROGRESS_STATES),
});
export const validWatch = (incidentIds: string[]) => fc.record({ incidentId: fc.constantFrom(...incidentIds) });

// --- one change at a time -----------------------------------------------------------

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k]))];
}

type Tweak = { char: string; at: number; length: number; number: number; asText: boolean };
type Mutation = { kind: 'set'; value: unknown } | { kind: 'delete' } | { kind: 'extra'; key: string; value: unknown } | { kind: 'wrap' }
  | { kind: 'tweak'; tweak: Tweak };

/** A change that keeps the field's type: text with one bad character or at a limit's length, an odd number. */
const tweak: fc.Arbitrary<Tweak> = fc.record({
  // Mostly what Postgres cannot store (NUL, lone surrogates): the likeliest way to a 500.
  char: fc.oneof(
    { arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff'), weight: 3 },
    { arbitrary: fc.constantFrom('\u0007', '\u001b', '\u007f', '\u202e', '\ufeff', '🚑', '\r\n'), weight: 2 },
  ),
  at: fc.nat(),
  length: fc.oneof(fc.constant(0), fc.constantFrom(...LIMIT_LENGTHS)),
  number: hostileNumber,
  asText: fc.boolean(),
});

function tweaked(value: unknown, t: Tweak): unknown {
  if (typeof value === 'string') {
    if (t.at % 3 === 0 && value.length > 0) return value.repeat(Math.ceil(t.length / value.length)).slice(0, t.length);
    const i = t.at % (value.length + 1);
    return value.slice(0, i) + t.char + value.slice(i);
  }
  if (typeof value === 'number') return t.asText ? String(value) : t.number;
  if (typeof value === 'boolean') return t.asText ? String(value) : Number(value);
  return t.asText ? JSON.stringify(value) : t.number;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: tweak.map((t) => ({ kind: 'tweak' as const, tweak: t })), weight: 5 },
  { arbitrary: hostileValue.map((value) => ({ kind: 'set' as const, value })), weight: 4 },
  { arbitrary: fc.constant({ kind: 'delete' as const }), weight: 1 },
  { arbitrary: fc.tuple(hostileKey, hostileValue).map(([key, value]) => ({ kind: 'extra' as const, key, value })), weight: 1 },
  { arbitrary: fc.constant({ kind: 'wrap' as const }), weight: 1 },
);

function apply(base: unknown, path: Path, m: Mutation): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  if (path.length === 0) {
    if (m.kind === 'tweak') return tweaked(copy, m.tweak);
    if (m.kind === 'set') return m.value;
    if (m.kind === 'delete') return undefined;
    if (m.kind === 'wrap') return [copy];
    // defineProperty: `__proto__` must become an own key, as it does from JSON.parse.
    Object.defineProperty(copy, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  let parent: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (m.kind === 'tweak') parent[last] = tweaked(parent[last], m.tweak);
  else if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') { if (Array.isArray(parent)) parent.splice(Number(last), 1); else delete parent[last]; }
  else if (m.kind === 'wrap') parent[last] = [parent[last]];
  else Object.defineProperty(parent, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Paths to text fields: where most bugs hide (storage, length limits). */
function textPaths(value: unknown): Path[] {
  return paths(value).filter((p) => typeof p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], value) === 'string');
}

/** A valid payload with exactly one change: a field tweaked or set to a hostile value, removed, wrapped in an array, or an extra key. */
export function mutated<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return valid.chain((base) => {
    const text = textPaths(base);
    const path = text.length
      ? fc.oneof({ arbitrary: fc.constantFrom(...paths(base)), weight: 2 }, { arbitrary: fc.constantFrom(...text), weight: 1 })
      : fc.constantFrom(...paths(base));
    return fc.tuple(path, mutation).map(([p, m]) => apply(base, p, m));
  });
}

/** What a fuzzed payload is: mostly one-change mutations, some valid, some pure junk. */
export function payload<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: mutated(valid), weight: 6 },
    { arbitrary: valid as fc.Arbitrary<unknown>, weight: 1 },
    { arbitrary: hostileValue, weight: 2 },
    { arbitrary: deepNesting, weight: 1 },
  );
}
