// The Socket.IO server: payload cap, Redis adapter for cluster-wide broadcasts, and
// per-namespace authentication (`connect_error` says `unauthorized` or `forbidden`).
import type { Server as HttpServer } from 'node:http';
import type { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import type { Role } from '../../shared/domain.ts';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import type { Auth } from '../auth.ts';
import type { Db } from '../db.ts';
import { getHero } from '../store/heroes.store.ts';
import { namespacesOf, type Namespaces } from './namespaces.ts';
import { tolerantRedisAdapter } from './tolerant-adapter.ts';

export interface IoDeps {
  auth: Auth;
  db: Db;
  pub: Redis;
  sub: Redis;
  adapterKey: string;
}

function guard(deps: IoDeps, role: Role) {
  return async (socket: Socket, next: (err?: Error) => void) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    let claims;
    try {
      claims = await deps.auth.verify(typeof token === 'string' ? token : undefined);
    } catch {
      return next(new Error('unauthorized'));
    }
    if (claims.role !== role) return next(new Error('forbidden'));
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

export function createIo(http: HttpServer, deps: IoDeps): { io: Server; nsp: Namespaces } {
  const io = new Server(http, {
    // Transport cap: a frame a little over 64 KiB closes the connection; payloads over
    // 64 KiB that fit in it are refused by the handlers with reason `invalid`.
    maxHttpBufferSize: MAX_SOCKET_PAYLOAD_BYTES + 4096,
    adapter: tolerantRedisAdapter(deps.pub, deps.sub, deps.adapterKey),
    cors: { origin: true },
    pingInterval: 10_000,
    pingTimeout: 5_000,
  });
  const nsp = namespacesOf(io);
  nsp.hero.use(guard(deps, 'hero'));
  nsp.civilian.use(guard(deps, 'civilian'));
  nsp.dispatch.use(guard(deps, 'dispatcher'));
  return { io, nsp };
}
