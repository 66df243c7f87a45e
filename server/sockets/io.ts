// The Socket.IO server: payload cap, Redis adapter for cluster-wide broadcasts, and
// the doors of each namespace. Refusals, cheapest first:
// - engine.io `allowRequest`: an Origin not allowed (CORS_ORIGINS, or the page's own)
//   and an address over its new-connection budget (CONNECTIONS_PER_10S) are refused
//   with HTTP 403 / a failed upgrade before any token is read;
// - the default namespace `/` refuses every connection: connect_error `forbidden`;
// - namespace middleware: connect_error `unauthorized` (bad token), `rate_limited` (the
//   address's failed-authentication budget is spent, or the user's connect budget),
//   `forbidden` (wrong role, unregistered hero).
// A connected socket is charged per user for every well-formed event (SocketBudgets,
// through `acked`), and is cut when its token expires: it is sent `session:expired`
// `{ reason: 'unauthorized' }`, then disconnected.
import type { Server as HttpServer } from 'node:http';
import type { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import type { Role } from '../../shared/domain.ts';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import type { Auth, VerifiedClaims } from '../auth.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { isAppError } from '../errors.ts';
import { KeyedBuckets } from '../security/buckets.ts';
import { originPolicy } from '../security/origins.ts';
import { getHero } from '../store/heroes.store.ts';
import { SocketBudgets } from './budgets.ts';
import { namespacesOf, type Namespaces } from './namespaces.ts';
import { tolerantRedisAdapter } from './tolerant-adapter.ts';

export interface IoDeps {
  auth: Auth;
  db: Db;
  pub: Redis;
  sub: Redis;
  adapterKey: string;
  config: Pick<Config, 'CORS_ORIGINS' | 'CONNECTIONS_PER_10S' | 'SOCKET_EVENTS_PER_10S' | 'SOCKET_CONNECTS_PER_10S' | 'PINGS_PER_10S'>;
}

/** setTimeout's longest delay; a longer-lived token is re-armed until it expires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function guard(deps: IoDeps, role: Role, budgets: SocketBudgets) {
  return async (socket: Socket, next: (err?: Error) => void) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const ip = deps.auth.addressOf(socket.handshake.address, socket.handshake.headers);
    let claims: VerifiedClaims;
    try {
      claims = await deps.auth.verify(typeof token === 'string' ? token : undefined, { ip });
    } catch (e) {
      return next(new Error(isAppError(e) && e.code === 'rate_limited' ? 'rate_limited' : 'unauthorized'));
    }
    if (claims.role !== role) return next(new Error('forbidden'));
    if (!budgets.admit(claims)) return next(new Error('rate_limited'));
    try {
      // Heroes must be registered before they connect (PROTOCOL "Identity").
      if (role === 'hero' && !(await getHero(deps.db, claims.sub))) return next(new Error('forbidden'));
    } catch {
      return next(new Error('unavailable'));
    }
    socket.data.claims = claims;
    next();
  };
}

/** Cuts the session when its token expires, after telling the client why. */
function endWithToken(socket: Socket, exp: number): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = exp * 1000 - Date.now();
    if (left <= 0) {
      socket.emit('session:expired', { reason: 'unauthorized' });
      socket.disconnect(true);
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS)).unref();
  };
  arm();
  socket.on('disconnect', () => clearTimeout(timer));
}

export function createIo(http: HttpServer, deps: IoDeps): { io: Server; nsp: Namespaces } {
  const origins = originPolicy(deps.config.CORS_ORIGINS);
  const connections = new KeyedBuckets(deps.config.CONNECTIONS_PER_10S, 10_000);
  const budgets = new SocketBudgets(deps.config);
  const io = new Server(http, {
    // Transport cap: a frame a little over 64 KiB closes the connection; payloads over
    // 64 KiB that fit in it are refused by the handlers with reason `invalid`.
    maxHttpBufferSize: MAX_SOCKET_PAYLOAD_BYTES + 4096,
    adapter: tolerantRedisAdapter(deps.pub, deps.sub, deps.adapterKey),
    // Only for new sessions (engine.io asks once per connection, not per poll).
    allowRequest: (req, answer) => {
      if (!origins.allowed(req.headers.origin, req.headers.host)) return answer('forbidden', false);
      if (!connections.take(deps.auth.addressOf(req.socket.remoteAddress, req.headers))) return answer('rate_limited', false);
      answer(null, true);
    },
    // The same allowlist for browsers' CORS checks (same-origin pages need no header).
    cors: (req, answer) => {
      const origin = req.headers.origin;
      answer(null, { origin: origin !== undefined && origins.allowed(origin, req.headers.host) ? origin : false });
    },
    pingInterval: 10_000,
    pingTimeout: 5_000,
  });
  // Nothing is served on the default namespace: it must not be an unauthenticated room.
  io.of('/').use((_socket, next) => next(new Error('forbidden')));
  const nsp = namespacesOf(io);
  const doors: [string, Role][] = [['/hero', 'hero'], ['/civilian', 'civilian'], ['/dispatch', 'dispatcher']];
  for (const [name, role] of doors) {
    const namespace = io.of(name);
    namespace.use(guard(deps, role, budgets));
    // Registered before the handlers' own listeners: the budget is there before any event.
    namespace.on('connection', (socket) => {
      const claims = socket.data.claims as VerifiedClaims;
      budgets.attach(socket, claims);
      endWithToken(socket, claims.exp);
    });
  }
  return { io, nsp };
}
