// What each outbox topic means, carried out. Pushes are Socket.IO emits (at most once
// on the wire; clients re-sync from `session` / `snapshot`), jobs go to BullMQ with
// ids derived from the row, and hero statuses go to Redis with their version. Built
// once per process by createApp and run by the relay (outbox.relay.ts).
import { withDeadline } from '../db.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { Notifier } from '../notify/notifier.ts';
import type { ServiceContext } from '../services/context.ts';
import type { DispatchRounds } from '../services/dispatch.watch.ts';
import { heroSession } from '../services/hero.service.ts';
import type { OfferWake } from '../services/notify.service.ts';
import { civilianStatus } from '../services/views.ts';
import type { HeroMapBatcher } from '../sockets/hero-map.batcher.ts';
import { rooms, type Namespaces } from '../sockets/namespaces.ts';
import { applyStatsOnce } from '../store/hero-stats.store.ts';
import { getIncident } from '../store/incidents.store.ts';
import type { Queues } from '../workers/queues.ts';
import { traced } from '../telemetry/tracing.ts';
import type { OutboxExecutor, OutboxMode } from './outbox.relay.ts';
import type { OutboxRow, OutboxTopic, OutboxTopics } from './outbox.topics.ts';

export interface ExecutorDeps {
  ctx: ServiceContext;
  nsp: Namespaces;
  queues: Queues;
  positions: HeroPositions;
  heroMap: HeroMapBatcher;
  notifier: Notifier;
  /** Offer acks, a turn's worth in one statement. */
  wake: OfferWake;
  /** This process's watched dispatch rounds: the carry path runs a first round here, past BullMQ. */
  rounds: DispatchRounds;
}

const EFFECT_DEADLINE_MS = 3_000;
/** Incidents whose rows a relay pass carries out side by side. */
const PASS_CONCURRENCY = 8;

/** Effects of one transaction carried out side by side. */
const CARRY_CONCURRENCY = 16;

/** Runs `work` over `items`, at most `lanes` at a time. */
async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

type Effect<T extends OutboxTopic = OutboxTopic> = OutboxRow<T> & { mode: OutboxMode };
type Handlers = { [T in OutboxTopic]: (payload: OutboxTopics[T], row: Effect<T>) => Promise<void> };

export function createOutboxExecutor(d: ExecutorDeps): OutboxExecutor {
  const { sql, log, config } = d.ctx;
  const handlers: Handlers = {
    dispatch: async (p, row) => {
      // Right after the commit that asked for it, the round runs here and now; BullMQ
      // holds delayed rounds and the backlog, in severity order.
      let delayMs = p.delayMs;
      if (row.mode === 'carry' && delayMs <= 0) {
        try {
          await d.rounds.run(p.incidentId);
          return;
        } catch (err) {
          // The round's watcher records failures and queues their retry itself; this is
          // one it could not record (Postgres away). Hand it to BullMQ, delayed and with
          // bounded attempts, instead of leaving this row to fail on every relay pass.
          log.warn({ err, incidentId: p.incidentId }, 'inline dispatch round failed; handed to the dispatch queue');
          delayMs = config.DISPATCH_RETRY_MS;
        }
      }
      // Paths that start from an offer do not know the severity; the incident does.
      const severity = p.severity ?? (await getIncident(sql, p.incidentId))?.severity ?? 'high';
      await d.queues.addDispatch(p.incidentId, row.id, delayMs, severity);
    },
    'offer:expire': (p) => d.queues.addExpiry(p.offerId, p.incidentId, p.expiresAt),
    'push:offer': (p) => traced('offer.emit', { 'hero.id': p.heroId, 'offer.id': p.offer.offerId, 'incident.id': p.offer.incident.id }, async () => {
      const { offerId, incident } = p.offer;
      // Before the emit: the hero's accept may come back on this process's loop.
      d.ctx.acceptGate.offerPushed(offerId, { heroId: p.heroId, incidentId: incident.id });
      // The hero app acknowledges an offer through the Socket.IO ack callback (an
      // extension, see README); that is what stops the push / SMS / voice chain.
      const emitter = d.nsp.hero.to(rooms.hero(p.heroId)).timeout(config.OFFER_ACK_MS) as unknown as {
        emit(event: 'offer', payload: unknown, ack: (err: unknown, responses: unknown[]) => void): void;
      };
      emitter.emit('offer', p.offer, (_err, responses) => {
        if (responses?.length) d.wake.markSeen(offerId).catch((err) => log.warn({ err, offerId }, 'could not mark offer seen'));
      });
      const critical = incident.severity === 'critical';
      await d.notifier.escalate(
        { heroId: p.heroId, offerId, incidentId: incident.id, text: `${incident.severity} ${incident.kind} ${p.offer.distanceKm} km away: open the app to accept` },
        critical ? 0 : config.OFFER_ACK_MS,
      );
    }),
    'push:withdrawn': async (p) => { d.nsp.hero.to(rooms.hero(p.heroId)).emit('offer:withdrawn', { offerId: p.offerId, reason: p.reason }); },
    'push:released': async (p) => { d.nsp.hero.to(rooms.hero(p.heroId)).emit('assignment:released', { incidentId: p.incidentId, reason: p.reason }); },
    'push:session': async (p) => { d.nsp.hero.to(rooms.hero(p.heroId)).emit('session', await heroSession(d.ctx, p.heroId)); },
    'push:incident': async ({ incident, coReporters = [] }) => {
      d.nsp.dispatch.to(rooms.dispatchers).emit('incident', incident);
      const reporters = [incident.reportedBy, ...coReporters].map(rooms.civilian);
      d.nsp.civilian.to(reporters).emit('incident:status', await civilianStatus(sql, d.positions, incident));
    },
    'hero:status': async (p) => {
      await d.positions.setStatus(p.id, p.status, p.version, p.mode);
      d.heroMap.mark({ id: p.id, status: p.status });
    },
    alert: async (p) => { d.nsp.dispatch.to(rooms.dispatchers).emit('alert', p); },
    // Ranking history (issue 16): applied once per row id, however often it is carried out.
    'stats:offer': async (p, row) => { await applyStatsOnce(sql, row.id, { kind: 'offer', ...p }); },
    'stats:arrival': async (p, row) => { await applyStatsOnce(sql, row.id, { kind: 'arrival', ...p }); },
  };

  const runOne = async (row: OutboxRow, mode: OutboxMode, done: Set<string>) => {
    try {
      // A hung effect (Redis away) fails this row for a later pass instead of
      // holding the relay, and with it every other push, hostage.
      await withDeadline((handlers[row.topic] as (p: unknown, r: Effect) => Promise<void>)(row.payload, { ...row, mode }), EFFECT_DEADLINE_MS, row.topic);
      done.add(row.id);
    } catch (err) {
      log.warn({ err, topic: row.topic, incidentId: row.incident_id ?? undefined, outboxId: row.id }, 'outbox effect failed; will retry');
    }
  };

  return async (rows, mode) => {
    const done = new Set<string>();
    if (mode === 'carry') {
      // One transaction's rows are consequences of one commit, each for a different
      // hero or screen: offers first, then the rest side by side (a round with 50 offers
      // has 150 rows). The next transaction's rows for this incident wait for these.
      const first = rows.filter((r) => r.topic === 'push:offer');
      const rest = rows.filter((r) => r.topic !== 'push:offer');
      await Promise.all(first.map((row) => runOne(row, mode, done)));
      await inLanes(rest, CARRY_CONCURRENCY, (row) => runOne(row, mode, done));
      return done;
    }
    // A backlog: incidents side by side, each incident's rows in order.
    const byIncident = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const key = row.incident_id ?? `row:${row.id}`;
      const group = byIncident.get(key);
      if (group) group.push(row);
      else byIncident.set(key, [row]);
    }
    await inLanes([...byIncident.values()], PASS_CONCURRENCY, async (group) => {
      for (const row of group) await runOne(row, mode, done);
    });
    return done;
  };
}
