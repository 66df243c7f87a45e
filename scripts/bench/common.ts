// What every metric group shares: options, progress lines, percentiles, the server
// under test (a real `npm start` process via scripts/cluster.ts, on its own Postgres
// schema and Redis prefix), heroes inserted straight into that schema, and cleanup.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { startCluster } from '../cluster.ts';
import { Child } from './ipc.ts';

export const config = loadConfig(process.env);
export const auth = createAuth(config);

export interface Opts { quick: boolean }

/** One row of the results. `ratio` is always value / bare (see bench.ts). */
export interface Metric {
  name: string;
  value: number | null;
  unit: string;
  bare: number | null;
  ratio: number | null;
  goal: string;
  met: boolean | null;
}

export function metric(name: string, value: number | null, unit: string, bare: number | null, goal: string, met: boolean | null): Metric {
  const ratio = value !== null && bare !== null && Number.isFinite(value) && bare !== 0 ? value / bare : null;
  return { name, value, unit, bare, ratio, goal, met };
}

/** Notes printed under the table (what was measured, how many samples, surprises). */
export const notes: string[] = [];
export const note = (line: string) => { notes.push(line); progress(`note: ${line}`); };

const T0 = Date.now();
export function progress(line: string): void {
  const s = Math.floor((Date.now() - T0) / 1000);
  process.stderr.write(`[bench ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const uid = (p: string) => `${p}${randomBytes(4).toString('hex')}`;

/** Nearest-rank percentile; Infinity entries (never happened) count as the slowest. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

// A metro-sized map: New York-ish coordinates, degrees per km at that latitude.
export const CITY = { lat: 40.75, lng: -73.98 };
export const KM_LAT = 1 / 111;
export const KM_LNG = 1 / 84;
export function around(center: { lat: number; lng: number }, sideKm: number) {
  return { lat: center.lat + (Math.random() - 0.5) * sideKm * KM_LAT, lng: center.lng + (Math.random() - 0.5) * sideKm * KM_LNG };
}

/** Cleanups registered by running groups; run at the end or on Ctrl-C. */
const cleanups: (() => Promise<void>)[] = [];
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done = false;
  const once = async () => { if (done) return; done = true; await fn().catch((e) => progress(`cleanup failed: ${(e as Error).message}`)); };
  cleanups.push(once);
  return once;
}
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export function pgFor(schema: string, max = 4) {
  return postgres(config.DATABASE_URL, { max, onnotice: () => {}, connection: { search_path: schema } });
}
export type Pg = ReturnType<typeof pgFor>;

export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(config.DATABASE_URL, { max: 1, onnotice: () => {} });
  await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end();
}

export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(config.REDIS_URL);
  for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
    if ((keys as string[]).length) await redis.del(...(keys as string[]));
  }
  redis.disconnect();
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export const randomPort = () => 20_000 + Math.floor(Math.random() * 20_000);

export interface ServerUnderTest {
  url: string;
  pid: number;
  schema: string;
  prefix: string;
  /** The benchmark's own connection to the server's schema (setup and checks only). */
  sql: Pg;
  /** A counter from /metrics (sum over its label sets). */
  counter(name: string): Promise<number>;
  stop(): Promise<void>;
}

/** One real server process (scripts/start.ts) with its own schema and Redis prefix. */
export async function startServerUnderTest(label: string, env: Record<string, string> = {}): Promise<ServerUnderTest> {
  const schema = uid('bench_');
  const prefix = uid('bench');
  const dropData = onCleanup(async () => { await dropSchema(schema); await deletePrefix(prefix); });
  const cluster = await startCluster(1, randomPort(), { DB_SCHEMA: schema, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', ...env }, 60_000);
  const member = cluster.members[0]!;
  const sql = pgFor(schema);
  const stop = onCleanup(async () => {
    await sql.end({ timeout: 5 });
    await cluster.stop();
    await dropData();
  });
  progress(`${label}: server up on ${member.url} (pid ${member.child.pid}, schema ${schema}, env ${JSON.stringify(env)})`);
  return {
    url: member.url, pid: member.child.pid!, schema, prefix, sql, stop,
    async counter(name) {
      const text = await (await fetch(`${member.url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    },
  };
}

export interface BenchHero { id: string; token: string; lat: number; lng: number }

/**
 * Registers heroes by inserting them straight into the server's `heroes` table, on duty
 * and `available` (what POST /v1/heroes then `duty` would leave behind, minus 2 round
 * trips each), with `skills(i)` (none unless given). Redis learns their status from
 * Postgres on their first ping (the server's own healing path). Tokens are signed with
 * the server's JWT secret.
 */
export async function insertHeroes(sql: Pg, n: number, place: (i: number) => { lat: number; lng: number }, skills: (i: number) => string[] = () => []): Promise<BenchHero[]> {
  const tag = randomBytes(3).toString('hex');
  const heroes: BenchHero[] = [];
  for (let start = 0; start < n; start += 1000) {
    const rows = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      const id = `bh-${tag}-${i}`;
      rows.push({ id, name: `Bench hero ${i}`, skills: skills(i), mode: i % 5 === 0 ? 'air' : 'ground', on_duty: true, status: 'available', status_version: 1 });
      heroes.push({ id, token: '', ...place(i) });
    }
    await sql`insert into heroes ${sql(rows, 'id', 'name', 'skills', 'mode', 'on_duty', 'status', 'status_version')}`;
  }
  await Promise.all(heroes.map(async (h) => { h.token = await auth.sign({ role: 'hero', sub: h.id }); }));
  return heroes;
}

export async function civilianTokens(n: number): Promise<string[]> {
  const tag = randomBytes(3).toString('hex');
  return Promise.all(Array.from({ length: n }, (_, i) => auth.sign({ role: 'civilian', sub: `bench-civ-${tag}-${i}` })));
}

/** A forked benchmark child whose lifetime is tied to the run. */
export function child(file: string, label: string): Child {
  const c = new Child(file, label, progress);
  onCleanup(() => c.stop());
  return c;
}
