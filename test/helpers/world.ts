// Building blocks for scenarios: areas that never overlap, heroes on duty with fresh
// positions, reports.
import * as assert from 'uvu/assert';
import type { Severity } from '../../shared/domain.ts';
import type { IncidentView, LatLng } from '../../shared/types.ts';
import { redisKeys } from '../../server/redis.ts';
import { connect, eventually, http, type Client } from './clients.ts';
import { uid, type TestServer } from './server.ts';

let areaCount = 0;
/** A fresh centre ~150 km from every other: scenarios in one file never see each other's heroes. */
export function area(): LatLng {
  areaCount += 1;
  return { lat: -70 + (areaCount % 100) * 1.4, lng: -170 + Math.floor(areaCount / 100) * 2 + (process.pid % 50) * 0.01 };
}

/** A point `km` east of `c` (roughly). */
export const east = (c: LatLng, km: number): LatLng => ({ lat: c.lat, lng: c.lng + km / (111.32 * Math.cos((c.lat * Math.PI) / 180)) });

export interface OnlineHero { id: string; name: string; client: Client; token: string }

export async function dispatcherToken(server: TestServer): Promise<string> {
  return server.token('dispatcher', uid('disp-'));
}

export async function registerHero(server: TestServer, opts: { skills?: string[]; mode?: 'ground' | 'air'; name?: string } = {}): Promise<{ id: string; name: string }> {
  const res = await http(server, 'POST', '/v1/heroes', {
    token: await dispatcherToken(server),
    body: { name: opts.name ?? uid('Hero '), skills: opts.skills ?? [], mode: opts.mode ?? 'ground' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Registers a hero, connects, goes on duty and pings a position `km` east of `at`. */
export async function heroOnline(server: TestServer, at: LatLng, km = 0.5, opts: { skills?: string[]; mode?: 'ground' | 'air' } = {}): Promise<OnlineHero> {
  const hero = await registerHero(server, opts);
  const token = await server.token('hero', hero.id);
  const client = await connect(server, 'hero', token);
  await client.next('session');
  const duty = await client.ask('duty', { onDuty: true });
  assert.equal(duty, { ok: true });
  client.socket.emit('location', east(at, km));
  return { ...hero, client, token };
}

/** Waits until Redis lists every hero as available for matching. */
export async function matchable(server: TestServer, heroes: { id: string }[], ms = 5_000): Promise<void> {
  const key = redisKeys(server.prefix).available;
  await eventually('heroes matchable', async () => {
    const scores = await server.app.redis.zmscore(key, ...heroes.map((h) => h.id));
    return scores.every((s) => s !== null);
  }, ms);
}

export async function report(server: TestServer, civilianToken: string, body: Record<string, unknown>, key = uid('key-')): Promise<{ status: number; incident: IncidentView }> {
  const res = await http(server, 'POST', '/v1/incidents', { token: civilianToken, body, headers: { 'idempotency-key': key } });
  return { status: res.status, incident: res.body };
}

/**
 * The simplest dispatch: one hero on duty in a fresh area, a civilian's medium report
 * there, and the offer the hero got for it.
 */
export async function heroOffered(server: TestServer, kind: string): Promise<{ hero: OnlineHero; civ: string; incident: IncidentView; offer: any }> {
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const civ = await server.token('civilian', uid('c-'));
  const { status, incident } = await report(server, civ, { kind, severity: 'medium', location: center });
  assert.ok(status === 201 || status === 200, `report answered ${status}: ${JSON.stringify(incident)}`);
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  return { hero, civ, incident, offer };
}

/** A report answered 201 in a fresh area where nobody is on duty: its rounds find nobody. */
export async function reportAlone(server: TestServer, severity: Severity, kind = 'accident'): Promise<IncidentView> {
  const civ = await server.token('civilian', uid('c-'));
  const answer = await report(server, civ, { kind, severity, location: area() });
  assert.is(answer.status, 201, JSON.stringify(answer.incident));
  return answer.incident;
}

/** A dispatcher cancels the incident (answered 200). */
export async function cancelByDispatcher(server: TestServer, incidentId: string, reason = 'test over'): Promise<void> {
  const res = await http(server, 'POST', `/v1/incidents/${incidentId}/cancel`, { token: await dispatcherToken(server), body: { reason } });
  assert.is(res.status, 200, JSON.stringify(res.body));
}

export function closeAll(...clients: (Client | { client: Client })[]): void {
  for (const c of clients) ('client' in c ? c.client : c).close();
}

/**
 * Leaves nothing moving for the next scenario: a dispatcher cancels every open incident,
 * then the outbox must drain within `drainMs`.
 */
export async function cancelOpenAndDrain(server: TestServer, dispatcherToken: string, drainMs: number): Promise<void> {
  const open = await server.app.sql<{ id: string }[]>`select id from incidents where state not in ('resolved', 'cancelled')`;
  for (const { id } of open) await http(server, 'POST', `/v1/incidents/${id}/cancel`, { token: dispatcherToken, body: { reason: 'end of scenario' } });
  await eventually('outbox drained', async () => (await server.app.sql`select 1 from outbox limit 1`).length === 0, drainMs);
}
