// Helpers for the breadcrumb and timeline suites: a hero's status and position as
// Redis holds them, pings that are known to have reached Redis, the breadcrumbs
// Postgres kept, and an RFC 4180 CSV reader that is independent of the server's writer.
import * as assert from 'uvu/assert';
import type { LatLng } from '../../shared/types.ts';
import { redisKeys } from '../../server/redis.ts';
import { eventually } from './clients.ts';
import type { TestServer } from './server.ts';
import type { OnlineHero } from './world.ts';

/** The status Redis holds for a hero ('' when none). */
export async function redisStatus(server: TestServer, heroId: string): Promise<string> {
  const entry = await server.app.redis.hget(redisKeys(server.prefix).status, heroId);
  return (entry ?? '').split(':')[0]!;
}

export async function untilStatus(server: TestServer, heroId: string, status: string, ms = 5_000): Promise<void> {
  await eventually(`hero ${heroId} ${status} in Redis`, async () => (await redisStatus(server, heroId)) === status, ms);
}

/** Where Redis has the hero now. */
export async function redisPosition(server: TestServer, heroId: string): Promise<LatLng | null> {
  const [pos] = await server.app.redis.geopos(redisKeys(server.prefix).positions, heroId);
  return pos && pos[0] !== null && pos[1] !== null ? { lng: Number(pos[0]), lat: Number(pos[1]) } : null;
}

export const samePlace = (a: LatLng | null, b: LatLng, eps = 1e-5): boolean =>
  a !== null && Math.abs(a.lat - b.lat) < eps && Math.abs(a.lng - b.lng) < eps;

/** Sends a ping and waits until Redis holds it (the location writer flushed it). */
export async function pingTo(server: TestServer, hero: OnlineHero, at: LatLng, ms = 5_000): Promise<void> {
  assert.equal(await hero.client.ask('location', at), { ok: true });
  await eventually(`hero at ${JSON.stringify(at)} in Redis`, async () => samePlace(await redisPosition(server, hero.id), at), ms);
}

export interface Crumb { at: number; lat: number; lng: number }

/** The breadcrumbs Postgres holds for a hero, oldest first. */
export async function crumbs(server: TestServer, heroId: string): Promise<Crumb[]> {
  const rows = await server.app.sql<{ at: Date; lat: number; lng: number }[]>`
    select at, lat, lng from breadcrumbs where hero_id = ${heroId} order by at`;
  return rows.map((r) => ({ at: r.at.getTime(), lat: r.lat, lng: r.lng }));
}

/** Waits until a breadcrumb at `at` is in Postgres; returns the hero's breadcrumbs. */
export async function untilCrumb(server: TestServer, heroId: string, at: LatLng, ms = 5_000): Promise<Crumb[]> {
  return eventually(`a breadcrumb at ${JSON.stringify(at)}`, async () => {
    const all = await crumbs(server, heroId);
    return all.some((c) => samePlace(c, at, 1e-9)) ? all : null;
  }, ms);
}

/** A point `m` metres north of `c`. */
export const north = (c: LatLng, m: number): LatLng => ({ lat: c.lat + m / 111_195, lng: c.lng });

/** RFC 4180: records of fields; quoted fields may hold commas, CRLF and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i += 1; continue; }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') { quoted = true; i += 1; continue; }
    if (c === ',') { record.push(field); field = ''; i += 1; continue; }
    if (c === '\r' && text[i + 1] === '\n') { record.push(field); records.push(record); record = []; field = ''; i += 2; continue; }
    if (c === '"' || c === '\r' || c === '\n') throw new Error(`bare ${JSON.stringify(c)} at ${i}: not RFC 4180`);
    field += c;
    i += 1;
  }
  if (field !== '' || record.length) throw new Error('the last record does not end with CRLF');
  return records;
}
