// The HTTP face of one server process: health, pages and the /v1 API on one Node HTTP
// server, to which Socket.IO attaches. app.ts builds it and says when to listen.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Admission } from '../admission.ts';
import type { Auth } from '../auth.ts';
import type { Config } from '../config.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Notifier } from '../notify/notifier.ts';
import type { RedisKeys } from '../redis.ts';
import type { ServiceContext } from '../services/context.ts';
import type { Queues } from '../workers/queues.ts';
import { answerClientError } from './client-error.ts';
import { healthRoutes } from './health.routes.ts';
import { heroRoutes } from './heroes.routes.ts';
import { incidentRoutes } from './incidents.routes.ts';
import { pageRoutes } from './pages.routes.ts';
import { problem, Router } from './router.ts';

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
  /** The BullMQ queues, for the operators' read-only view. */
  queues: Queues;
  notifier: Notifier;
  isDraining: () => boolean;
}

export interface WebServer {
  /** The Node server; Socket.IO attaches to it. */
  server: HttpServer;
  /** Readies the routes and listens; resolves to the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Drops idle keep-alive connections, which would otherwise hold a close open. */
  closeIdle(): void;
}

export function createWebServer(d: WebDeps): WebServer {
  const router = new Router(d.log);
  const server = createServer((req, res) => {
    router.handle(req, res).then(
      (handled) => { if (!handled) problem(res, 404, 'not_found', 'no such route'); },
      (err) => { d.log.error({ err }, 'unhandled request error'); if (!res.headersSent) problem(res, 500, 'internal', 'internal error'); },
    );
  });
  server.on('clientError', answerClientError);
  healthRoutes(router, { sql: d.ctx.sql, redis: d.redis, metrics: d.metrics, config: d.config, isDraining: d.isDraining });
  pageRoutes(router, { tilesUrl: d.config.MAP_TILES_URL });
  heroRoutes(router, { ctx: d.ctx, auth: d.auth, positions: d.positions });
  incidentRoutes(router, { ctx: d.ctx, auth: d.auth, redis: d.redis, keys: d.keys, admission: d.admission });

  return {
    server,
    listen: (port, host) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as AddressInfo).port); });
    }),
    closeIdle: () => server.closeIdleConnections(),
  };
}
