// The `/dispatch` namespace: a snapshot on connect, then live `incident`, `heroes`
// and `alert` pushes. Overrides are HTTP calls.
import type { Db } from '../db.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { dispatchSnapshot } from '../services/views.ts';
import { rooms, type DispatchNamespace } from './namespaces.ts';

export function registerDispatchHandlers(nsp: DispatchNamespace, ctx: ServiceContext, db: Db, positions: HeroPositions): void {
  nsp.on('connection', (socket) => {
    // Join first, then snapshot: a change in between arrives as an update, not lost.
    void socket.join(rooms.dispatchers);
    ctx.metrics.socketsConnected.inc({ namespace: 'dispatch' });
    socket.on('disconnect', () => ctx.metrics.socketsConnected.dec({ namespace: 'dispatch' }));
    dispatchSnapshot(db, positions).then(
      (snapshot) => socket.emit('snapshot', snapshot),
      (err) => ctx.log.error({ err }, 'could not build dispatch snapshot'),
    );
  });
}
