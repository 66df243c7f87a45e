// match_p99_ms_10k / _100k: the server's candidate search (findCandidates: the search
// script, the freshness filter and the ETA ranking) called in this process against a
// Redis prefix loaded with 10k / 100k available heroes, fresh, spread uniformly over a
// 40 × 40 km metro. Side by side, alternating per query: one bare GEOSEARCH (3 km, 20
// nearest) on the same set from the same centre. One query at a time.
// rank_40_p99_us (issue 16): the learned ranking of one round's 40 candidates in process
// (rankCandidates: features, scores, the order, exploration, and the reasons in words for
// the first 6, the most a critical round offers), beside the same 40 sorted by physics
// ETA as today's round does (the bare). A model trained on synthetic offers; 64 rounds
// of synthetic candidates, taken in turn.
import { Redis } from 'ioredis';
import { findCandidates } from '../../server/geo/matcher.ts';
import { HeroPositions } from '../../server/geo/positions.redis.ts';
import { rankCandidates } from '../../server/ranking/ranking.ts';
import { syntheticExamples, syntheticInput } from '../../server/ranking/synthetic.ts';
import { trainModel } from '../../server/ranking/trainer.ts';
import { redisKeys } from '../../server/redis.ts';
import { Rng } from '../sim/rng.ts';
import { deletePrefix, uid } from '../lib/lifecycle.ts';
import { pct, round } from '../lib/stats.ts';
import { around, CITY, config, metric, note, onCleanup, progress, type Metric, type Opts } from './common.ts';

const AREA_KM = 40;
const RADIUS_KM = 3;
// What a dispatch round asks for with the default critical batch of 3: candidatePool(3) = 40.
const LIMIT = 40;

async function load(redis: Redis, keys: ReturnType<typeof redisKeys>, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 2_000) {
    const pipe = redis.pipeline();
    const geo: (string | number)[] = [];
    const seen: (string | number)[] = [];
    const status: (string | number)[] = [];
    const now = Date.now();
    for (let i = start; i < Math.min(n, start + 2_000); i++) {
      const id = `mh-${i}`;
      const p = around(CITY, AREA_KM);
      geo.push(p.lng, p.lat, id);
      seen.push(id, now);
      status.push(id, `available:1:${i % 5 === 0 ? 'air' : 'ground'}`);
      ids.push(id);
    }
    pipe.call('GEOADD', keys.positions, ...geo);
    pipe.call('GEOADD', keys.available, ...geo);
    pipe.call('HSET', keys.lastSeen, ...seen);
    pipe.call('HSET', keys.status, ...status);
    await pipe.exec();
  }
  return ids;
}

async function refreshSeen(redis: Redis, key: string, ids: string[]): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < ids.length; start += 5_000) {
    await redis.call('HSET', key, ...ids.slice(start, start + 5_000).flatMap((id) => [id, now]));
  }
}

async function one(n: number, queries: number): Promise<{ srv: number[]; bare: number[]; found: number }> {
  const prefix = uid('benchm', 4);
  const cleanup = onCleanup(() => deletePrefix(prefix));
  const redis = new Redis(config.REDIS_URL);
  try {
    const keys = redisKeys(prefix);
    const t0 = performance.now();
    const ids = await load(redis, keys, n);
    progress(`match: loaded ${n} heroes in ${round((performance.now() - t0) / 1000, 1)} s; ${queries} queries each way`);
    const positions = new HeroPositions(redis, keys);
    const srv: number[] = [];
    const bare: number[] = [];
    let found = 0;
    let refreshed = Date.now();
    const warmup = 200;
    for (let i = 0; i < warmup + queries; i++) {
      // Keep every hero fresh (LOCATION_FRESH_MS is 30 s), outside the timed calls.
      if (Date.now() - refreshed > 10_000) { await refreshSeen(redis, keys.lastSeen, ids); refreshed = Date.now(); }
      const center = around(CITY, AREA_KM - 2 * RADIUS_KM);
      const runBare = async () => {
        const t = performance.now();
        await redis.call('GEOSEARCH', keys.available, 'FROMLONLAT', center.lng, center.lat, 'BYRADIUS', RADIUS_KM, 'km', 'ASC', 'COUNT', 20);
        return performance.now() - t;
      };
      const runSrv = async () => {
        const t = performance.now();
        const c = await findCandidates(positions, { center, radiusKm: RADIUS_KM, limit: LIMIT, freshMs: config.LOCATION_FRESH_MS });
        const ms = performance.now() - t;
        if (i >= warmup) found += c.length;
        return ms;
      };
      // Alternate which goes first, so neither always finds Redis warmer.
      let bareMs: number;
      let srvMs: number;
      if (i % 2) { bareMs = await runBare(); srvMs = await runSrv(); } else { srvMs = await runSrv(); bareMs = await runBare(); }
      if (i < warmup) continue;
      bare.push(bareMs);
      srv.push(srvMs);
      if ((i - warmup) % Math.ceil(queries / 4) === 0 && i > warmup) progress(`match ${n}: ${i - warmup}/${queries}`);
    }
    // Other users of this Redis may FLUSHALL or restart it (the fault tests do): then
    // the figures above measured an empty set, and the run must be repeated.
    const left = await redis.zcard(keys.available);
    if (left !== n) throw new Error(`the available set lost heroes mid-run (${left}/${n}): Redis was flushed or restarted by someone else`);
    return { srv, bare, found: found / queries };
  } finally {
    redis.disconnect();
    await cleanup();
  }
}

/** Per round, µs: ranking 40 candidates with a model, and sorting them by physics ETA; alternating which runs first. */
function ranking(rounds: number): { ranked: number[]; bare: number[] } {
  const rng = new Rng(16);
  const random = () => rng.next();
  const model = trainModel(syntheticExamples(5_000, random).examples);
  const at = Date.now();
  const pool = Array.from({ length: 64 }, (_, k) => Array.from({ length: LIMIT }, (_, i) => syntheticInput(random, `r${k}-${i}`, at)));
  const ranked: number[] = [];
  const bare: number[] = [];
  let sink = 0;
  const warmup = 2_000;
  for (let i = 0; i < warmup + rounds; i++) {
    const inputs = pool[i % pool.length]!;
    const runRanked = () => {
      const t = performance.now();
      const r = rankCandidates(model, inputs, { explorationShare: 0.1, random: Math.random, batchSize: 3, offerWindowS: 15, historyWindow: '7 days' });
      for (let k = 0; k < 6; k++) sink += r[k]!.why.length;
      return (performance.now() - t) * 1000;
    };
    const runBare = () => {
      const t = performance.now();
      sink += [...inputs].sort((a, b) => a.physicsEtaS - b.physicsEtaS).length;
      return (performance.now() - t) * 1000;
    };
    let r: number;
    let b: number;
    if (i % 2) { b = runBare(); r = runRanked(); } else { r = runRanked(); b = runBare(); }
    if (i < warmup) continue;
    ranked.push(r);
    bare.push(b);
  }
  if (sink === 0) throw new Error('nothing ranked');
  return { ranked, bare };
}

export async function matching(o: Opts): Promise<Metric[]> {
  const queries = o.quick ? 2_000 : 10_000;
  const out: Metric[] = [];
  for (const [n, goalMs] of [[10_000, 5], [100_000, 10]] as const) {
    const r = await one(n, queries).catch(async (e: Error) => {
      progress(`match ${n}: ${e.message}; trying once more`);
      return one(n, queries);
    });
    const p99 = pct(r.srv, 0.99);
    const b99 = pct(r.bare, 0.99);
    note(`match ${n / 1000}k: findCandidates(radius ${RADIUS_KM} km, limit ${LIMIT} → search COUNT ${LIMIT * 3}) p50 ${round(pct(r.srv, 0.5), 3)} / p99 ${round(p99, 3)} ms, ${round(r.found, 1)} candidates per query; `
      + `bare GEOSEARCH (COUNT 20) p50 ${round(pct(r.bare, 0.5), 3)} / p99 ${round(b99, 3)} ms; ${queries} sequential queries each, random centres.`);
    out.push(metric(`match_p99_ms_${n / 1000}k`, round(p99, 3), 'ms', round(b99, 3), `≤ ${goalMs} and ≤ 3× bare`, p99 <= goalMs && p99 <= 3 * b99));
  }
  const rounds = o.quick ? 20_000 : 100_000;
  progress(`rank: ${rounds} rounds of ${LIMIT} candidates each way`);
  const rk = ranking(rounds);
  const r99 = pct(rk.ranked, 0.99);
  const rb99 = pct(rk.bare, 0.99);
  note(`rank 40: rankCandidates with a model p50 ${round(pct(rk.ranked, 0.5), 1)} / p99 ${round(r99, 1)} µs; `
    + `bare (sort by physics ETA) p50 ${round(pct(rk.bare, 0.5), 1)} / p99 ${round(rb99, 1)} µs; ${rounds} rounds each, in process.`);
  out.push(metric('rank_40_p99_us', round(r99, 1), 'µs', round(rb99, 1), '≤ 200 µs added', r99 - rb99 <= 200));
  return out;
}
