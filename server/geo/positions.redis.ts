// The derived copy of hero positions and availability in Redis. Three Lua scripts
// keep it consistent in one round trip each: a ping batch, a status change, a search.
import type { Redis } from 'ioredis';
import type { HeroMode, HeroStatus } from '../../shared/domain.ts';
import type { LatLng } from '../../shared/types.ts';
import type { RedisKeys } from '../redis.ts';

// KEYS: positions, available, lastSeen, status. ARGV: now, then id, lng, lat per ping.
// Returns each pinged hero's status ('' when Redis does not know it: healed by caller).
const PING_BATCH = `
local out = {}
local now = ARGV[1]
for i = 2, #ARGV, 3 do
  local id, lng, lat = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local st = redis.call('HGET', KEYS[4], id)
  local status = st and string.match(st, '^[^:]+') or ''
  if status ~= 'off_duty' then
    redis.call('GEOADD', KEYS[1], lng, lat, id)
    if status == 'available' then redis.call('GEOADD', KEYS[2], lng, lat, id) end
  end
  redis.call('HSET', KEYS[3], id, now)
  out[#out + 1] = status
end
return out`;

// KEYS: positions, available, status. ARGV: id, status, version, mode.
// Applies a status only if newer than the one held, so relays racing cannot go back.
const SET_STATUS = `
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if cur then
  local v = tonumber(string.match(cur, '^[^:]+:(%d+)'))
  if v and v >= tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4])
if ARGV[2] == 'available' then
  local pos = redis.call('GEOPOS', KEYS[1], ARGV[1])[1]
  if pos then redis.call('GEOADD', KEYS[2], pos[1], pos[2], ARGV[1]) end
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  if ARGV[2] == 'off_duty' then redis.call('ZREM', KEYS[1], ARGV[1]) end
end
return 1`;

// KEYS: available, lastSeen, status. ARGV: lng, lat, radiusKm, count.
// Returns flat [id, distKm, lastSeen, statusEntry, ...] nearest first.
const SEARCH = `
local found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'km', 'ASC', 'COUNT', ARGV[4], 'WITHDIST')
local out = {}
for _, hit in ipairs(found) do
  out[#out + 1] = hit[1]
  out[#out + 1] = hit[2]
  out[#out + 1] = redis.call('HGET', KEYS[2], hit[1]) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], hit[1]) or ''
end
return out`;

// KEYS: available, lastSeen. ARGV: cutoff (ms). Drops heroes whose last ping is older
// than the cutoff from matching; returns flat [id, lastSeen, ...] of those dropped.
const DROP_STALE = `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local seen = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  if seen < tonumber(ARGV[1]) then
    redis.call('ZREM', KEYS[1], id)
    out[#out + 1] = id
    out[#out + 1] = tostring(seen)
  end
end
return out`;

// KEYS: lastSeen. ARGV: now, ids... Last ping of each hero; a hero Redis has no
// record of (it restarted empty) starts its silence now instead of counting as lost.
const LAST_SEEN_OR_NOW = `
local out = {}
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not v then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    v = ARGV[1]
  end
  out[#out + 1] = v
end
return out`;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

export interface NearbyHero { heroId: string; distanceKm: number; lastSeenAt: number; mode: HeroMode }

export class HeroPositions {
  private readonly ping: ScriptCall;
  private readonly setStatusScript: ScriptCall;
  private readonly search: ScriptCall;
  private readonly dropStaleScript: ScriptCall;
  private readonly lastSeenScript: ScriptCall;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    redis.defineCommand('sdPingBatch', { numberOfKeys: 4, lua: PING_BATCH });
    redis.defineCommand('sdSetStatus', { numberOfKeys: 3, lua: SET_STATUS });
    redis.defineCommand('sdSearch', { numberOfKeys: 3, lua: SEARCH });
    redis.defineCommand('sdDropStale', { numberOfKeys: 2, lua: DROP_STALE });
    redis.defineCommand('sdLastSeenOrNow', { numberOfKeys: 1, lua: LAST_SEEN_OR_NOW });
    const r = redis as unknown as Record<string, ScriptCall>;
    this.ping = r.sdPingBatch!.bind(redis);
    this.setStatusScript = r.sdSetStatus!.bind(redis);
    this.search = r.sdSearch!.bind(redis);
    this.dropStaleScript = r.sdDropStale!.bind(redis);
    this.lastSeenScript = r.sdLastSeenOrNow!.bind(redis);
  }

  /** Takes heroes silent since before `cutoff` out of matching; returns who and when last seen. */
  async dropStale(cutoff: number): Promise<{ heroId: string; lastSeenAt: number }[]> {
    const flat = (await this.dropStaleScript(this.keys.available, this.keys.lastSeen, cutoff)) as string[];
    const out: { heroId: string; lastSeenAt: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ heroId: flat[i]!, lastSeenAt: Number(flat[i + 1]) });
    return out;
  }

  /** Last ping per hero; unknown heroes start counting from `now` (Redis may have been emptied). */
  async lastSeenOrNow(heroIds: string[], now: number): Promise<Map<string, number>> {
    if (heroIds.length === 0) return new Map();
    const values = (await this.lastSeenScript(this.keys.lastSeen, now, ...heroIds)) as string[];
    return new Map(heroIds.map((id, i) => [id, Number(values[i])]));
  }

  /** Writes a batch of pings; returns the status Redis holds for each ('' = unknown). */
  async writePings(now: number, pings: { heroId: string; lat: number; lng: number }[]): Promise<string[]> {
    const args: (string | number)[] = [now];
    for (const p of pings) args.push(p.heroId, p.lng, p.lat);
    const k = this.keys;
    return (await this.ping(k.positions, k.available, k.lastSeen, k.status, ...args)) as string[];
  }

  async setStatus(heroId: string, status: HeroStatus, version: number, mode: HeroMode): Promise<boolean> {
    const k = this.keys;
    return (await this.setStatusScript(k.positions, k.available, k.status, heroId, status, version, mode)) === 1;
  }

  async nearbyAvailable(center: LatLng, radiusKm: number, count: number): Promise<NearbyHero[]> {
    const k = this.keys;
    const flat = (await this.search(k.available, k.lastSeen, k.status, center.lng, center.lat, radiusKm, count)) as string[];
    const out: NearbyHero[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      const mode = (flat[i + 3] ?? '').split(':')[2] === 'air' ? 'air' : 'ground';
      out.push({ heroId: flat[i]!, distanceKm: Number(flat[i + 1]), lastSeenAt: Number(flat[i + 2] || 0), mode });
    }
    return out;
  }

  /** How many of these heroes have not pinged since `cutoff` (or ever, as far as Redis knows). */
  async countStale(heroIds: string[], cutoff: number): Promise<number> {
    if (heroIds.length === 0) return 0;
    const seen = await this.redis.hmget(this.keys.lastSeen, ...heroIds);
    return seen.filter((s) => !s || Number(s) < cutoff).length;
  }

  /** Live position and last ping of each hero, for views and snapshots. */
  async live(heroIds: string[]): Promise<Map<string, { location?: LatLng; lastSeenAt?: number }>> {
    const out = new Map<string, { location?: LatLng; lastSeenAt?: number }>();
    if (heroIds.length === 0) return out;
    const [positions, seen] = await Promise.all([
      this.redis.geopos(this.keys.positions, ...heroIds),
      this.redis.hmget(this.keys.lastSeen, ...heroIds),
    ]);
    heroIds.forEach((id, i) => {
      const pos = positions[i];
      const at = seen[i];
      out.set(id, {
        ...(pos && pos[0] !== null && pos[1] !== null ? { location: { lng: Number(pos[0]), lat: Number(pos[1]) } } : {}),
        ...(at ? { lastSeenAt: Number(at) } : {}),
      });
    });
    return out;
  }
}
