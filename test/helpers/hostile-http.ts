// Transport-level junk for HTTP: forged and odd tokens, path segments with broken
// percent-encodings, malformed bodies and content types, odd header values.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import type { TestServer } from './server.ts';
import { hostileString } from './arbitraries.ts';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
/** Signs by hand: jose refuses to sign some of the headers we want to send. */
const hs256 = (secret: string, header: unknown, claims: unknown) => {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

/**
 * Tokens no request may get past the door with, or validly signed ones carrying a
 * hostile `sub`, each labelled. The third element is the role of a token the server
 * may accept (validly signed, a `sub` that is a well-formed id).
 */
export async function hostileTokens(server: TestServer): Promise<[string, string, string?][]> {
  const key = new TextEncoder().encode(server.app.config.JWT_SECRET);
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, secret = key) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(secret);
  const exp = now() + 3600;
  const list: [string, string, string?][] = [
    ['empty', ''], ['garbage', 'garbage'], ['three dots', 'a.b.c'], ['4097 chars', 'x'.repeat(4097)],
    ['alg none', `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'civ-x', role: 'dispatcher', exp })}.`],
    ['alg none, no dot', `${b64url({ alg: 'none' })}.${b64url({ sub: 'civ-x', role: 'dispatcher', exp })}`],
    ['forged', await sign({ sub: 'd-1', role: 'dispatcher', exp }, {}, new TextEncoder().encode('another-secret-of-sufficient-length'))],
    ['expired', await sign({ sub: 'd-1', role: 'dispatcher', exp: now() - 10 })],
    ['no exp', await sign({ sub: 'd-1', role: 'dispatcher' })],
    ['not yet valid', await sign({ sub: 'd-1', role: 'dispatcher', exp, nbf: now() + 3600 })],
    ['crit header', hs256(server.app.config.JWT_SECRET, { alg: 'HS256', crit: ['x-unknown'], 'x-unknown': 1 }, { sub: 'd-1', role: 'dispatcher', exp })],
    ['alg HS256 lower-case', hs256(server.app.config.JWT_SECRET, { alg: 'hs256' }, { sub: 'd-1', role: 'dispatcher', exp })],
    ['payload not JSON', `${b64url({ alg: 'HS256' })}.${Buffer.from('not json').toString('base64url')}.x`],
    ['payload an array', hs256(server.app.config.JWT_SECRET, { alg: 'HS256' }, [{ sub: 'd-1', role: 'dispatcher', exp }])],
    ['role admin', await sign({ sub: 'd-1', role: 'admin', exp })],
    ['role array', await sign({ sub: 'd-1', role: ['dispatcher'], exp })],
    ['role __proto__', await sign({ sub: 'd-1', role: '__proto__', exp })],
    ['no role', await sign({ sub: 'd-1', exp })],
    ['numeric sub', await sign({ sub: 42, role: 'dispatcher', exp })],
    ['empty sub', await sign({ sub: '', role: 'civilian', exp })],
    // Validly signed and never expiring: may be accepted, but must not trip an expiry timer.
    ['exp 1e308', await sign({ sub: 'd-1', role: 'dispatcher', exp: 1e308 }), 'dispatcher'],
    ['exp string', await sign({ sub: 'd-1', role: 'dispatcher', exp: String(exp) })],
  ];
  // Validly signed, with a sub no id should ever be: what the server does with it after the door.
  const subs: [string, string, boolean][] = [
    ['NUL', 'civ\u0000nul', false], ['lone surrogate', 'civ-\ud800', false], ['10 000 chars', 'c'.repeat(10_000), false],
    ['101 chars', 'c'.repeat(101), false], ['control chars', 'civ\u0001\u001f\u007f', false], ['100 chars', 'c'.repeat(100), true],
    ['__proto__', '__proto__', true], ['RTL', '\u202eciv', true], ['emoji', '🚑🚒', true], ['SQL', "x'; drop table incidents; --", true],
    ['percent', '%00', true],
  ];
  for (const role of ['civilian', 'hero', 'dispatcher'] as const) {
    for (const [label, sub, fine] of subs) list.push([`${role} sub ${label}`, await sign({ sub, role, exp }), fine ? role : undefined]);
  }
  return list;
}

/** Replaces lone surrogates so encodeURIComponent cannot throw. */
const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\ufffd');

// Segments and query values stay short enough that a request carrying the 13 KB token
// (10 000-character sub) stays under Node's 16 KiB header limit: over it, Node itself
// answers 431 before the app sees the request (tested on its own in fuzz.test.ts).
/** One path segment: encoded hostile text, or percent-encodings that do not decode. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileString.map((s) => encodeURIComponent(wellFormed(s)).slice(0, 1_000)), weight: 3 },
  {
    arbitrary: fc.constantFrom('%00', '%ZZ', '%E0%A4%A', '%ED%A0%80', '%ED%B0%80', '%2F', '%2f..%2f', '%2e%2e', '%', '%%', '%C0%AF', '%FF',
      'a%00b', '%u0000', '%0A', '%0D%0A', '%20', '+', '%2B', ';', ',', '*', '~', 'x'.repeat(101), 'x'.repeat(201), 'x'.repeat(1_000), '%F0%9F%9A%91', '%EF%BB%BF'),
    weight: 2,
  },
);

/** A query value: encoded hostile text, numbers as text, broken encodings. */
export const queryValue: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((s) => encodeURIComponent(wellFormed(s)).slice(0, 500)),
  fc.constantFrom('0', '-1', '1', '1e308', '-0', 'NaN', 'Infinity', '9007199254740993', '0x10', '1.5', '', '%ZZ', '%00', '500', '501', '100000',
    'reported', 'reported,cancelled', 'reported,,', ',', 'REPORTED', 'dispatching%00', '__proto__'),
  fc.integer().map(String),
);

/** A header value fetch will send (no NUL, CR or LF; Latin-1 only). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', 'x'.repeat(200), 'x'.repeat(201), 'k'.repeat(1_000), 'a\tb', 'a\u0001b', '\u007f', 'é', '\u00ff\u00fe', '__proto__', '%00', 'null'),
  fc.string({ unit: fc.integer({ min: 0x01, max: 0xff }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c)), maxLength: 40 }),
);

export const contentType: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined, 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/json; charset=utf-16', '', 'application/problem+json', 'JSON', 'text/json', 'application/xml',
);

/** Bodies JSON.parse refuses, or accepts with a surprise. */
export const rawBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('{', '}', '{"kind":', '[', 'nul', 'NaN', 'Infinity', '1e999', '-', '"', "{'kind':'fire'}", '{"a":1}garbage', '\u0000',
    '\ufeff{"kind":"fire"}', '{"kind":"fire","kind":"medical"}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}',
    'null', 'true', '0', '-0', '[]', '[{}]', '""', '"\\u0000"', '"\\ud800"', '{"reason":"\\u0000"}', '{"reason":"\\udc00"}', ' ', '\n\n',
    'kind=fire&severity=low', '<xml/>', '{"name":"x","skills":[],"mode":"ground"'),
  fc.integer({ min: 64 * 1024 - 16, max: 80 * 1024 }).map((n) => `{"description":"${'d'.repeat(n)}"}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.integer({ min: 150, max: 250 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 10_000, max: 20_000 }).map((n) => '['.repeat(n)),
);
