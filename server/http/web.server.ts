// The HTTP face of one server process, on fastify: health, pages, the /v1 API, its
// OpenAPI document and the operators' queue view, on one Node HTTP server to which
// Socket.IO attaches. app.ts builds it and says when to listen.
//
// The order below matters: the request's span starts first; helmet's headers are set
// before any hook can refuse a request; path parameters are checked before anyone is
// identified; the document's collector is registered before the routes it describes.
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import type { Admission } from '../admission.ts';
import type { ReportBatcher } from '../services/report.batcher.ts';
import type { Auth } from '../auth.ts';
import type { Config } from '../config.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Notifier } from '../notify/notifier.ts';
import type { RedisKeys } from '../redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { rankingOf } from '../services/ranking.service.ts';
import type { Queues } from '../workers/queues.ts';
import { adminRoutes } from './admin.routes.ts';
import { alertRoutes } from './alerts.routes.ts';
import { authenticate } from './auth.hook.ts';
import { jsonBodies } from './body.parser.ts';
import { answerClientError } from './client-error.ts';
import { checkResponses, plainSerializer } from './conformance.ts';
import { frameworkErrors, handleErrors } from './error.handler.ts';
import { healthRoutes } from './health.routes.ts';
import { heroRoutes } from './heroes.routes.ts';
import { incidentRoutes } from './incidents.routes.ts';
import { offerRoutes } from './offers.routes.ts';
import { collectOpenapi, openapiRoutes } from './openapi.ts';
import { guardParams } from './params.guard.ts';
import { remember, RouteTable } from './route.table.ts';
import { standardsRoutes } from './standards.routes.ts';
import { staticRoutes } from './static.routes.ts';
import { timelineRoutes } from './timeline.routes.ts';
import { traceRequests } from './tracing.hook.ts';
import { validatorCompiler } from './validation.ts';

export interface WebDeps {
  config: Config;
  log: Logger;
  ctx: ServiceContext;
  auth: Auth;
  redis: Redis;
  keys: RedisKeys;
  metrics: Metrics;
  positions: HeroPositions;
  admission: Admission;
  reports: ReportBatcher;
  /** The BullMQ queues, for the operators' read-only view. */
  queues: Queues;
  notifier: Notifier;
  isDraining: () => boolean;
}

export interface WebServer {
  /** The Node server (fastify's); Socket.IO attaches to it. */
  server: HttpServer;
  /** Readies the routes and listens; resolves to the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Drops idle keep-alive connections, which would otherwise hold a close open. */
  closeIdle(): void;
}

/**
 * Sent with every response: no content sniffing (a JSON answer is never run as a
 * script), and no URL (which may hold an id) leaks in a Referer header. Pages, the
 * docs and the queue view add their own CSP and frame protection per route.
 */
const EVERY_RESPONSE = {
  global: true, contentSecurityPolicy: false, referrerPolicy: { policy: 'no-referrer' as const },
  crossOriginEmbedderPolicy: false, crossOriginOpenerPolicy: false, crossOriginResourcePolicy: false, originAgentCluster: false,
  strictTransportSecurity: false, xDnsPrefetchControl: false, xDownloadOptions: false, xFrameOptions: false,
  xPermittedCrossDomainPolicies: false, xPoweredBy: false, xXssProtection: false,
};

export function createWebServer(d: WebDeps): WebServer {
  const app = Fastify({
    // Errors are logged by the error handler, with their cause; a request log line per
    // request would cost more than it tells.
    logger: false,
    bodyLimit: MAX_SOCKET_PAYLOAD_BYTES,
    // Long ids are refused by guardParams (400, with the reason), not skipped by the router (404).
    routerOptions: { maxParamLength: 16_384 },
    // As before: HEAD of a GET route is 405.
    exposeHeadRoutes: false,
    // Node's defaults, which fastify would otherwise change.
    keepAliveTimeout: 5_000,
    requestTimeout: 300_000,
    clientErrorHandler: answerClientError,
    frameworkErrors: frameworkErrors(d.log),
  }).withTypeProvider<ZodTypeProvider>();

  const routes = new RouteTable();
  remember(app.server, routes);
  app.addHook('onRoute', (route) => routes.add(route));
  traceRequests(app);
  app.setValidatorCompiler(validatorCompiler);
  if (d.config.HTTP_RESPONSE_CHECK) checkResponses(app);
  else app.setSerializerCompiler(plainSerializer);
  jsonBodies(app);

  app.register(helmet, EVERY_RESPONSE);
  app.after(() => {
    app.addHook('onRequest', guardParams);
    authenticate(app, d.auth, d.log);
    handleErrors(app, d.log, routes);
  });
  collectOpenapi(app);
  app.register(healthRoutes({ sql: d.ctx.sql, redis: d.redis, metrics: d.metrics, config: d.config, isDraining: d.isDraining, ranking: () => rankingOf(d.ctx).status() }));
  app.register(staticRoutes({ tilesUrl: d.config.MAP_TILES_URL }));
  app.register(heroRoutes({ ctx: d.ctx, positions: d.positions }));
  app.register(incidentRoutes({ ctx: d.ctx, redis: d.redis, keys: d.keys, admission: d.admission, reports: d.reports }));
  app.register(timelineRoutes({ ctx: d.ctx }));
  app.register(offerRoutes({ ctx: d.ctx }));
  app.register(alertRoutes({ ctx: d.ctx }));
  app.register(standardsRoutes({ ctx: d.ctx }));
  app.register(adminRoutes({ queues: [d.queues.dispatch, d.queues.expiry, d.queues.sweeps, d.queues.retention, d.notifier.bullQueue], config: d.config }));
  app.register(openapiRoutes);

  return {
    server: app.server,
    listen: async (port, host) => {
      await app.listen({ port, host });
      return (app.server.address() as AddressInfo).port;
    },
    closeIdle: () => app.server.closeIdleConnections(),
  };
}
