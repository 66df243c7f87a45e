// The `/civilian` namespace: the reporter's own channel, a status for each open
// incident on connect, and `incident:watch` for one of their own incidents (reported,
// or linked to by their report).
import { watchSchema } from '../../shared/schemas.ts';
import type { Db } from '../db.ts';
import { AppError } from '../errors.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { civilianStatus, incidentFor } from '../services/views.ts';
import { incidentView, incidentViews, isReporter, listIncidents } from '../store/incidents.store.ts';
import { acked } from './ack.ts';
import { rooms, type CivilianNamespace } from './namespaces.ts';

export function registerCivilianHandlers(nsp: CivilianNamespace, ctx: ServiceContext, db: Db, positions: HeroPositions): void {
  nsp.on('connection', (socket) => {
    const civilianId = socket.data.claims.sub;
    void socket.join(rooms.civilian(civilianId));
    ctx.metrics.socketsConnected.inc({ namespace: 'civilian' });
    socket.on('disconnect', () => ctx.metrics.socketsConnected.dec({ namespace: 'civilian' }));

    (async () => {
      const open = await incidentViews(db, await listIncidents(db, { reportedBy: civilianId, openOnly: true, limit: 50 }));
      for (const view of open) socket.emit('incident:status', await civilianStatus(db, positions, view));
    })().catch((err) => ctx.log.error({ err, civilianId }, 'could not send civilian statuses'));

    socket.on('incident:watch', acked(ctx.log, 'incident:watch', watchSchema, async ({ incidentId }) => {
      const incident = await incidentView(db, incidentId);
      if (!incident || !(await isReporter(db, incidentId, civilianId))) throw new AppError('not_found', 'no such incident of yours');
      // A civilian whose report was linked watches it without learning who reported it first.
      return { incident: incidentFor({ role: 'civilian', sub: civilianId }, incident) };
    }));
  });
}
