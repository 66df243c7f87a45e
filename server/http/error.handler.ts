// One mapping from whatever a request ran into to its problem document. Nothing a client
// sends may become a 500: malformed paths, bodies and content types are refused as 400,
// a value Postgres refuses as data (SQLSTATE class 22) too, a dropped database
// connection is a 503 to retry. Only our own faults are 500, logged with their cause.
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import { isDataException } from '../data-exception.ts';
import { isTransient } from '../db.ts';
import { isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sendProblem, type Problem } from './problem.ts';
import type { RouteTable } from './route.table.ts';

const CODES: Record<number, string> = { 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large' };
const BODY = 'send a JSON body (content-type: application/json)';

/** Fastify's own refusals, in the words the hand-rolled router used. */
const FASTIFY: Record<string, Problem> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', detail: `body over ${MAX_SOCKET_PAYLOAD_BYTES} bytes` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 400, code: 'invalid', detail: BODY },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid', detail: 'the body is not as long as its content-length says' },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid', detail: 'malformed path' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 400, code: 'invalid', detail: 'the path holds a malformed id' },
};

export function problemOf(err: unknown, log: Logger, path: string): Problem {
  if (isAppError(err)) {
    // Shedding load (503 unavailable, with Retry-After) is expected in a burst: one line
    // without a stack, which would cost more to write than the refusal itself.
    if (err.code === 'unavailable') log.warn({ path, code: err.code, retryAfterS: err.retryAfterS }, err.message);
    else if (err.status >= 500) log.error({ err, path }, 'request failed');
    return {
      status: err.status, code: err.code, detail: err.message,
      ...(err.errors ? { errors: err.errors } : {}), ...(err.retryAfterS !== undefined ? { retryAfterS: err.retryAfterS } : {}),
    };
  }
  if (isTransient(err)) {
    log.warn({ err, path }, 'database connection dropped');
    return { status: 503, code: 'unavailable', detail: 'the database connection dropped; retry', retryAfterS: 1 };
  }
  if (isDataException(err)) {
    // Input the schemas let through but Postgres cannot take: the client's fault, worth
    // a warning (a schema may need tightening), never a 500.
    log.warn({ err, path }, 'request refused by the database as invalid data');
    return { status: 400, code: 'invalid', detail: 'the request holds a value that cannot be stored' };
  }
  const { code, statusCode } = err as Partial<FastifyError>;
  const known = code ? FASTIFY[code] : undefined;
  if (known) return known;
  // Another refusal of the framework or a plugin (a static file path it will not serve, a
  // request aborted mid-body): the client's, so its own status.
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, code: CODES[statusCode] ?? 'invalid', detail: (err as Error).message || 'refused' };
  }
  log.error({ err, path }, 'request failed');
  return { status: 500, code: 'internal', detail: 'internal error' };
}

/**
 * Reads a refused body to its end (bounded), so the client gets its 413 instead of a
 * connection reset while it is still sending.
 */
function drain(req: IncomingMessage, ms = 5_000): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); req.off('end', done); req.off('close', done); resolve(); };
    const timer = setTimeout(done, ms);
    req.on('end', done);
    req.on('close', done);
    req.resume();
  });
}

/** Answers `err` as a problem document; usable from hooks of any plugin scope. */
export async function replyWithError(reply: FastifyReply, err: unknown, log: Logger): Promise<FastifyReply> {
  const p = problemOf(err, log, reply.request.url);
  if (p.status === 413) await drain(reply.request.raw);
  return sendProblem(reply, p);
}

/** Headers helmet sets from its hooks, for the few answers given before any hook ran. */
function baseHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
}

/** fastify's `frameworkErrors`: a URL find-my-way cannot decode (`%E0`, `%ZZ`). */
export function frameworkErrors(log: Logger) {
  return (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
    baseHeaders(reply);
    return sendProblem(reply, problemOf(err, log, reply.request.url));
  };
}

export function handleErrors(app: FastifyInstance, log: Logger, routes: RouteTable): void {
  app.setErrorHandler((err, _req, reply) => replyWithError(reply, err, log));

  app.setNotFoundHandler((req, reply) => {
    const url = req.raw.url ?? '/';
    // `GET //` and the like are not URLs at all.
    try { new URL(url, 'http://local'); } catch { return sendProblem(reply, { status: 400, code: 'invalid', detail: 'malformed path' }); }
    const q = url.indexOf('?');
    const allowed = routes.methodsAt(q < 0 ? url : url.slice(0, q));
    if (allowed.length && !allowed.includes(req.method)) {
      return sendProblem(reply, { status: 405, code: 'method_not_allowed', detail: `${req.method} is not allowed here`, headers: { allow: allowed.join(', ') } });
    }
    // A route that matched but found nothing to serve (a static file that is not there).
    return sendProblem(reply, { status: 404, code: 'not_found', detail: allowed.length ? 'no such file' : 'no such route' });
  });
}
