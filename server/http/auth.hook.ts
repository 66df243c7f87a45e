// Who may call a route is a route option, `config: { roles: [...] }`; one onRequest hook
// verifies the caller's token and role before anything else is read, and puts the
// verified claims on the request. A failure counts against the caller's address
// (AUTH_FAILURES_PER_MIN, shared with sockets); past it, failing requests get 429.
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../shared/domain.ts';
import { requireRole, type Auth, type VerifiedClaims } from '../auth.ts';
import type { Logger } from '../log.ts';
import { replyWithError } from './error.handler.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Without it: anyone, and no token is read. */
    roles?: readonly Role[];
    /** Also take the token from the ADMIN_COOKIE cookie (pages a browser navigates to). */
    cookieAuth?: boolean;
  }
  interface FastifyRequest {
    /** The verified caller: set on every route that has `config.roles`. */
    claims: VerifiedClaims;
  }
}

/** The cookie `POST /v1/admin/session` sets for the pages under /admin. */
export const ADMIN_COOKIE = 'dispatch_admin';

export const bearerToken = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

export function authenticate(app: FastifyInstance, auth: Auth, log: Logger): void {
  app.decorateRequest('claims', null as unknown as VerifiedClaims);
  // Answers refusals itself (not through an error handler), so a plugin with its own
  // error handler (the queue view) refuses exactly like the API.
  app.addHook('onRequest', (request, reply, done) => {
    const { roles, cookieAuth } = request.routeOptions.config;
    if (!roles) { done(); return; }
    const token = bearerToken(request.headers.authorization) ?? (cookieAuth ? cookieValue(request.headers.cookie, ADMIN_COOKIE) : undefined);
    auth.verify(token, { ip: auth.addressOf(request.raw.socket.remoteAddress, request.headers) }).then((claims) => {
      try { requireRole(claims, ...roles); } catch (err) { void replyWithError(reply, err, log); return; }
      request.claims = claims;
      done();
    }, (err: unknown) => { void replyWithError(reply, err, log); });
  });
}
