// The `/hero` namespace: session on connect, duty, location pings, offer answers and
// progress. Every acked event answers exactly once.
import { dutySchema, locationSchema, offerRefSchema, progressSchema, toFieldErrors } from '../../shared/schemas.ts';
import type { LocationWriter } from '../geo/location.writer.ts';
import type { ServiceContext } from '../services/context.ts';
import { heroSession, reportProgress, setHeroDuty } from '../services/hero.service.ts';
import { acceptOffer, declineOffer } from '../services/offer.service.ts';
import { acked } from './ack.ts';
import { budgetOf } from './budgets.ts';
import { rooms, type HeroNamespace } from './namespaces.ts';

export function registerHeroHandlers(nsp: HeroNamespace, ctx: ServiceContext, locations: LocationWriter): void {
  const { log } = ctx;
  nsp.on('connection', (socket) => {
    const heroId = socket.data.claims.sub;
    void socket.join(rooms.hero(heroId));
    ctx.metrics.socketsConnected.inc({ namespace: 'hero' });
    socket.on('disconnect', () => ctx.metrics.socketsConnected.dec({ namespace: 'hero' }));

    heroSession(ctx, heroId).then(
      (session) => socket.emit('session', session),
      (err) => log.error({ err, heroId }, 'could not build hero session'),
    );

    // Budgets are the hero's, shared by all their sockets (budgets.ts): pings here, the
    // acked events inside `acked`.
    const budget = budgetOf(socket);
    socket.on('location', (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (a: unknown) => void) : null;
      const parsed = locationSchema.safeParse(args[0]);
      if (!parsed.success) { ack?.({ ok: false, reason: 'invalid', errors: toFieldErrors(parsed.error) }); return; }
      if (budget?.ping() === false) { ack?.({ ok: false, reason: 'rate_limited' }); return; }
      locations.add(heroId, parsed.data.lat, parsed.data.lng);
      ack?.({ ok: true });
    });

    socket.on('duty', acked(log, 'duty', dutySchema, async ({ onDuty }) => {
      await setHeroDuty(ctx, heroId, onDuty);
      return {};
    }));
    socket.on('offer:accept', acked(log, 'offer:accept', offerRefSchema, ({ offerId }) => acceptOffer(ctx, heroId, offerId)));
    socket.on('offer:decline', acked(log, 'offer:decline', offerRefSchema, async ({ offerId }) => {
      await declineOffer(ctx, heroId, offerId);
      return {};
    }));
    socket.on('incident:progress', acked(log, 'incident:progress', progressSchema, ({ incidentId, state }) =>
      reportProgress(ctx, heroId, incidentId, state)));
  });
}
