// `npm run bench:cluster -- [--heroes 300] [--rate 600] [--seconds 30]`: the same load
// against a cluster of one process and of three, side by side. This process is the
// load generator only; the servers are child processes (scripts/cluster.ts).
// Heroes accept every offer and resolve at once, so they are free for the next one.
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { createAuth } from '../server/auth.ts';
import { loadConfig } from '../server/config.ts';
import { startCluster } from './cluster.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const HEROES = arg('heroes', 300);
const RATE = arg('rate', 600); // reports per minute
const SECONDS = arg('seconds', 30);
const CENTER = { lat: 40.75, lng: -73.98 };
const auth = createAuth(loadConfig(process.env));
const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const around = (km: number) => ({ lat: CENTER.lat + ((Math.random() - 0.5) * km) / 111, lng: CENTER.lng + ((Math.random() - 0.5) * km) / 84 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result { processes: number; reports: number; ok: number; assigned: number; throughput: number; offerP50: number; offerP95: number; offerP99: number; httpP50: number; httpP99: number }

async function run(processes: number): Promise<Result> {
  const schema = `bench_${randomUUID().slice(0, 8)}`;
  const prefix = `bench${randomUUID().slice(0, 6)}`;
  const base = 21000 + Math.floor(Math.random() * 20000);
  const cluster = await startCluster(processes, base, {
    DB_SCHEMA: schema, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', REPORTS_PER_MINUTE: '1000000', PINGS_PER_10S: '1000', DB_POOL_SIZE: '10',
  });
  const urls = cluster.members.map((m) => m.url);
  const sockets: Socket[] = [];
  const firstOffer = new Map<string, number>();
  const sentAt = new Map<string, number>();
  const httpMs: number[] = [];
  let assigned = 0;
  try {
    const dispatcher = await auth.sign({ role: 'dispatcher', sub: 'bench' });
    // Register heroes and connect them round-robin over the processes.
    for (let i = 0; i < HEROES; i++) {
      const res = await fetch(`${urls[i % urls.length]}/v1/heroes`, {
        method: 'POST', headers: { authorization: `Bearer ${dispatcher}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `Hero ${i}`, skills: [], mode: i % 5 === 0 ? 'air' : 'ground' }),
      });
      const hero = (await res.json()) as { id: string };
      const token = await auth.sign({ role: 'hero', sub: hero.id });
      const socket = io(`${urls[i % urls.length]}/hero`, { auth: { token }, transports: ['websocket'] });
      sockets.push(socket);
      const home = around(10);
      socket.on('offer', async (offer: { offerId: string; incident: { id: string } }, ack?: (ok: boolean) => void) => {
        ack?.(true);
        if (!firstOffer.has(offer.incident.id)) firstOffer.set(offer.incident.id, performance.now());
        const answer = await socket.timeout(10_000).emitWithAck('offer:accept', { offerId: offer.offerId }).catch(() => null);
        if (!answer?.ok) return;
        assigned += 1;
        for (const state of ['en_route', 'on_scene', 'resolved']) {
          await socket.timeout(10_000).emitWithAck('incident:progress', { incidentId: offer.incident.id, state }).catch(() => null);
        }
      });
      socket.on('connect', () => {
        socket.emit('duty', { onDuty: true }, () => {});
        socket.emit('location', home);
      });
      setInterval(() => socket.connected && socket.emit('location', home), 5_000 + Math.random() * 5_000).unref();
    }
    await sleep(3_000); // everyone on duty and pinged
    const civilians = await Promise.all(Array.from({ length: 50 }, (_, i) => auth.sign({ role: 'civilian', sub: `bench-civ-${i}` })));
    const total = Math.round((RATE / 60) * SECONDS);
    const gap = 60_000 / RATE;
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    let ok = 0;
    for (let i = 0; i < total; i++) {
      const due = started + i * gap;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inflight.push((async () => {
        const t0 = performance.now();
        const res = await fetch(`${urls[i % urls.length]}/v1/incidents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${civilians[i % civilians.length]}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ kind: 'accident', severity: i % 4 === 0 ? 'critical' : 'high', location: around(10) }),
        }).catch(() => null);
        httpMs.push(performance.now() - t0);
        if (res && res.status === 201) {
          ok += 1;
          sentAt.set(((await res.json()) as { id: string }).id, t0);
        }
      })());
    }
    await Promise.all(inflight);
    await sleep(5_000); // let the last offers land and be accepted
    const elapsedS = (performance.now() - started) / 1000;
    const offerMs = [...sentAt].flatMap(([id, t0]) => (firstOffer.has(id) ? [firstOffer.get(id)! - t0] : []));
    return {
      processes, reports: total, ok, assigned, throughput: assigned / elapsedS,
      offerP50: pct(offerMs, 0.5), offerP95: pct(offerMs, 0.95), offerP99: pct(offerMs, 0.99),
      httpP50: pct(httpMs, 0.5), httpP99: pct(httpMs, 0.99),
    };
  } finally {
    sockets.forEach((s) => s.close());
    await cluster.stop();
    const sql = postgres(loadConfig(process.env).DATABASE_URL, { onnotice: () => {}, max: 1 });
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end();
    const redis = new Redis(loadConfig(process.env).REDIS_URL);
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) if ((keys as string[]).length) await redis.del(...(keys as string[]));
    redis.disconnect();
  }
}

console.log(`load: ${HEROES} heroes, ${RATE} reports/min for ${SECONDS} s (critical 1 in 4), reports and heroes spread over the processes`);
const results: Result[] = [];
for (const n of [1, 3]) {
  console.log(`running against ${n} process${n > 1 ? 'es' : ''}…`);
  results.push(await run(n));
}
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
console.log('\n| processes | reports sent | 201 | assigned | assigned/s | report→first offer p50 / p95 / p99 ms | HTTP report p50 / p99 ms |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.processes} | ${r.reports} | ${r.ok} | ${r.assigned} | ${f(r.throughput)} | ${f(r.offerP50)} / ${f(r.offerP95)} / ${f(r.offerP99)} | ${f(r.httpP50)} / ${f(r.httpP99)} |`);
}
process.exit(0);
