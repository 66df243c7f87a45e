// The operators' queue view: bull-board at /admin/queues, read-only, for dispatchers.
//
// A browser navigating to a page sends no Authorization header, so the page takes its
// token from a cookie: `POST /v1/admin/session` with a dispatcher's bearer token sets
// `dispatch_admin=<token>` (HttpOnly, SameSite=Strict, Path=/admin, Secure over https,
// expiring with the token), and everything under /admin accepts that cookie or a bearer
// header, verifying the token and the role on every request like any API call. The
// cookie holds nothing the caller did not already hold, is never readable by scripts,
// and is not sent cross-site. The view can change nothing: every queue is in bull-board's
// readOnlyMode, and any method but GET is refused here before bull-board sees it.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { ADMIN_COOKIE, bearerToken } from './auth.hook.ts';
import { problems, sendProblem } from './problem.ts';

const QUEUES_PATH = '/admin/queues';

/** bull-board's page uses inline styles; its scripts and everything else are its own files. */
const ADMIN_HELMET = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], fontSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"],
    },
  },
  xFrameOptions: { action: 'deny' as const },
};

// bull-board's page links a Google Fonts stylesheet: dropped, so the page loads nothing
// from the internet (it falls back to the system's sans-serif).
const EXTERNAL_FONTS = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>/g;

/** Over https (directly, or as a trusted proxy says), the cookie is Secure. */
function secure(req: FastifyRequest, trustProxy: number): boolean {
  if ((req.raw.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  return trustProxy > 0 && typeof proto === 'string' && proto.split(',').at(-1)?.trim().toLowerCase() === 'https';
}

const cookie = (value: string, maxAgeS: number, https: boolean) =>
  `${ADMIN_COOKIE}=${value}; Path=/admin; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`;

const noContent = z.undefined().meta({ description: 'Done; no body.' });

export const adminRoutes = (d: { queues: Queue[]; config: Pick<Config, 'TRUST_PROXY'> }): FastifyPluginAsyncZod => async (app) => {
  app.post('/v1/admin/session', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags: ['admin'], summary: 'Open the operators\' pages in this browser',
      description: `Sets the \`${ADMIN_COOKIE}\` cookie (HttpOnly, SameSite=Strict, Path=/admin, until the token expires) holding this bearer token, `
        + `so a browser may then navigate to ${QUEUES_PATH}, the read-only queue view.`,
      response: { 204: noContent, ...problems(401, 403, 429) },
    },
  }, async (req, reply) => {
    const maxAge = Math.max(0, Math.min(req.claims.exp - Math.floor(Date.now() / 1000), 24 * 3600));
    return reply.code(204).header('set-cookie', cookie(bearerToken(req.headers.authorization)!, maxAge, secure(req, d.config.TRUST_PROXY))).send(undefined);
  });

  app.delete('/v1/admin/session', {
    schema: { tags: ['admin'], summary: 'Forget the operators\' cookie in this browser', response: { 204: noContent } },
  }, async (req, reply) => reply.code(204).header('set-cookie', cookie('', 0, secure(req, d.config.TRUST_PROXY))).send(undefined));

  await app.register(queueView(d.queues));
};

function queueView(queues: Queue[]) {
  return async (scope: FastifyInstance) => {
    // Every route bull-board registers: dispatchers only (cookie or bearer), its own
    // CSP, and out of the OpenAPI document.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, roles: ['dispatcher'], cookieAuth: true, helmet: ADMIN_HELMET } as typeof route.config;
      route.schema = { ...route.schema, hide: true } as typeof route.schema;
    });
    scope.addHook('onRequest', (req, reply, done) => {
      if (req.method === 'GET' || req.method === 'HEAD') { done(); return; }
      sendProblem(reply, { status: 405, code: 'method_not_allowed', detail: 'the queue view is read-only', headers: { allow: 'GET' } });
    });
    scope.addHook('onSend', (_req, reply, payload, done) => {
      const html = typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').startsWith('text/html');
      done(null, html ? (payload as string).replace(EXTERNAL_FONTS, '') : payload);
    });
    const board = new FastifyAdapter();
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'Dispatch queues' } },
    });
    board.setBasePath(QUEUES_PATH);
    await scope.register(board.registerPlugin(), { prefix: QUEUES_PATH });
  };
}
