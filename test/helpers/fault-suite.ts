// A suite for scenarios that break Redis: its own redis-server (test/helpers/redis-server.ts),
// a server on it, a dispatcher token, heroes that keep pinging, and after each scenario
// everything it opened torn down, open incidents cancelled, the outbox drained and the
// invariants checked before and after that cleanup.
import { suite, type Test } from 'uvu';
import type { Config } from '../../server/config.ts';
import type { LatLng } from '../../shared/types.ts';
import type { Client } from './clients.ts';
import { checkInvariants } from './invariants.ts';
import { startRedisServer, type PrivateRedis } from './redis-server.ts';
import { startServer, uid, type TestServer } from './server.ts';
import { cancelOpenAndDrain, east, heroOnline, type OnlineHero } from './world.ts';

export type FaultCtx = { server: TestServer; disp: string; redis: PrivateRedis };
export interface Pinging extends OnlineHero { at: LatLng; stop(): void }

/** How often a pinging hero sends `location`, as a hero's app would (faster, for tests). */
export const PING_MS = 250;

export interface FaultSuite {
  test: Test<FaultCtx>;
  /** Closed after the scenario, whatever happened. */
  track(c: Client): Client;
  /** Emits `location` for the hero every PING_MS until stopped. */
  keepPinging(h: OnlineHero, at: LatLng): Pinging;
  /** A registered hero on duty, `km` east of `center`, pinging until stopped. */
  pinging(server: TestServer, center: LatLng, km: number): Promise<Pinging>;
  stopAll(): void;
}

export function faultSuite(name: string, settings: Partial<Record<keyof Config, unknown>>, drainMs: number): FaultSuite {
  const test = suite<FaultCtx>(name);
  const pingers = new Set<NodeJS.Timeout>();
  const clients: Client[] = [];
  const track = (c: Client) => { clients.push(c); return c; };
  const keepPinging = (h: OnlineHero, at: LatLng): Pinging => {
    const timer = setInterval(() => { if (h.client.socket.connected) h.client.socket.emit('location', at); }, PING_MS);
    pingers.add(timer);
    return { ...h, at, stop: () => { clearInterval(timer); pingers.delete(timer); } };
  };
  const pinging = async (server: TestServer, center: LatLng, km: number) => {
    const h = await heroOnline(server, center, km);
    track(h.client);
    return keepPinging(h, east(center, km));
  };
  const stopAll = () => {
    for (const t of pingers) clearInterval(t);
    pingers.clear();
    for (const c of clients.splice(0)) c.close();
  };

  test.before(async (ctx) => {
    ctx.redis = await startRedisServer();
    ctx.server = await startServer({ ...settings, REDIS_URL: ctx.redis.url });
    ctx.disp = await ctx.server.token('dispatcher', uid('disp-'));
  });
  test.after(async (ctx) => {
    stopAll();
    try { await ctx.server?.stop(); } finally { await ctx.redis?.cleanup(); }
  });
  test.after.each(async (ctx) => {
    stopAll();
    await checkInvariants(ctx.server, 'after the scenario, before its cleanup');
    await cancelOpenAndDrain(ctx.server, ctx.disp, drainMs);
    await checkInvariants(ctx.server, 'after the scenario\'s open incidents were cancelled and the outbox drained');
  });
  return { test, track, keepPinging, pinging, stopAll };
}
