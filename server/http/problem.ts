// Problem documents (application/problem+json, RFC 9457): the one shape of every HTTP
// refusal, with the machine-readable `code` clients branch on. Also their schema, so
// every route documents the refusals it may answer.
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { FieldError } from '../../shared/ack.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export const PROBLEM_TYPE = 'application/problem+json';

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: FieldError[];
  /** Seconds, sent as Retry-After (429, 503). */
  retryAfterS?: number;
  /** Extra response headers (Allow on a 405). */
  headers?: Record<string, string>;
}

function problemBody(p: Problem) {
  return {
    type: `/problems/${p.code}`, title: TITLES[p.status] ?? 'Error', status: p.status, detail: p.detail, code: p.code,
    ...(p.errors ? { errors: p.errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  reply.code(p.status).type(PROBLEM_TYPE);
  // A 401 names the scheme that would succeed (RFC 9110 §11.6.1).
  if (p.status === 401) reply.header('www-authenticate', 'Bearer');
  if (p.retryAfterS !== undefined) reply.header('retry-after', String(p.retryAfterS));
  if (p.headers) reply.headers(p.headers);
  return reply.send(problemBody(p));
}

export const problemSchema = z.strictObject({
  type: z.string().meta({ description: '`/problems/<code>`' }),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().meta({ description: 'What was wrong, for a person to read.' }),
  code: z.string().meta({ description: 'Machine-readable: `invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `busy`, `rate_limited`, …' }),
  errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional()
    .meta({ description: 'Field problems, for a 400.' }),
}).meta({
  id: 'Problem',
  description: 'Every refusal (PROTOCOL "HTTP").',
  examples: [{
    type: '/problems/invalid', title: 'Bad Request', status: 400, detail: 'the request body is not valid', code: 'invalid',
    errors: [{ path: 'location.lat', message: 'Too big: expected number to be <=85.05112878' }],
  }],
});

const WHEN: Record<number, string> = {
  400: 'Invalid input (`invalid`): a malformed id, query, header or body; `errors` lists field problems.',
  401: 'No valid token (`unauthorized`); carries `WWW-Authenticate: Bearer`.',
  403: 'A valid token of the wrong role or owner (`forbidden`).',
  404: 'No such resource (`not_found`).',
  409: 'Not possible in the current state (`conflict`, `busy`, …).',
  413: 'Body over 64 KiB (`payload_too_large`).',
  422: 'The Idempotency-Key was used for a different report (`idempotency_mismatch`).',
  429: 'Over a budget (`rate_limited`): failed authentications per address, or reports per civilian; carries `Retry-After`.',
  503: 'Try again (`unavailable`): the database connection dropped, or the report gate is full; carries `Retry-After`.',
};

type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

/** The response-schema entries for the refusals a route may answer. */
export function problems<S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: WHEN[s]!, content: { [PROBLEM_TYPE]: { schema: problemSchema } },
  }])) as Record<S, { description: string; content: { [PROBLEM_TYPE]: { schema: typeof problemSchema } } }>;
}
