// What every metric group shares: options, progress lines, the server under test (real
// `npm start` processes via scripts/cluster.ts, on their own Postgres schema and Redis
// prefix from scripts/lib/lifecycle.ts), heroes inserted straight into that schema, and
// cleanup.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createAuth } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { startClusterAnyPort } from '../cluster.ts';
import { call } from '../lib/wire.ts';
import { dropStores, pg, uid, type Sql } from '../lib/lifecycle.ts';
import { Child } from './ipc.ts';

export const config = loadConfig(process.env);
export const auth = createAuth(config);

export interface Opts {
  quick: boolean;
  /** `--cluster-heroes`, `--cluster-rate` (reports/min), `--cluster-seconds`: the cluster group's load. */
  cluster?: { heroes?: number; rate?: number; seconds?: number };
}

/** One row of the results. `ratio` is always value / bare (see bench.ts). */
export interface Metric {
  name: string;
  value: number | null;
  unit: string;
  bare: number | null;
  ratio: number | null;
  goal: string;
  met: boolean | null;
  /** With `--baseline`: the minimum value ÷ baseline this row's goal asks for (capacity: 3). */
  timesBaseline?: number;
  /** With `--baseline`, for the groups run against it: the same row from the baseline build. */
  baseline?: number | null;
  /** Why the baseline run of this row's group failed. */
  baselineError?: string;
}

/**
 * The build the servers under test run: this tree, or (`--baseline REF`) an older one
 * that bench.ts set up; groups that compare against a bare component may skip it then.
 */
export const target: { root?: string; name?: string } = {};

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

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export interface ServerUnderTest {
  /** The first process's URL; `urls` has every process's (one unless asked for more). */
  url: string;
  urls: string[];
  /** The first process's pid; `pids` has every process's. */
  pid: number;
  pids: number[];
  schema: string;
  prefix: string;
  /** The benchmark's own connection to the server's schema (setup and checks only). */
  sql: Sql;
  /** A counter from /metrics (sum over its label sets, or those whose labels include `having`). */
  counter(name: string, having?: string): Promise<number>;
  stop(): Promise<void>;
}

/** `processes` real server processes (scripts/start.ts) sharing their own schema and Redis prefix. */
export async function startServerUnderTest(group: string, env: Record<string, string> = {}, processes = 1): Promise<ServerUnderTest> {
  const names = { schema: uid('bench_', 4), prefix: uid('bench', 4) };
  const dropData = onCleanup(() => dropStores([names]));
  const label = target.name ? `${group} [${target.name}]` : group;
  const cluster = await startClusterAnyPort(processes, { DB_SCHEMA: names.schema, REDIS_PREFIX: names.prefix, LOG_LEVEL: 'warn', ...env }, {
    readyMs: 60_000, root: target.root, onRetry: (port, e) => progress(`${label}: base port ${port} failed (${String(e).slice(0, 200)}); trying another`),
  });
  const member = cluster.members[0]!;
  const sql = pg(names.schema);
  const stop = onCleanup(async () => {
    await sql.end({ timeout: 5 });
    await cluster.stop();
    await dropData();
  });
  const urls = cluster.members.map((m) => m.url);
  progress(`${label}: server up on ${urls.join(' ')} (pid ${cluster.members.map((m) => m.child.pid).join(' ')}, schema ${names.schema}, env ${JSON.stringify(env)})`);
  return {
    url: member.url, urls, pid: member.child.pid!, pids: cluster.members.map((m) => m.child.pid!), ...names, sql, stop,
    async counter(name, having) {
      const text = String((await call('GET', `${member.url}/metrics`)).body);
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`)) || (having && !line.includes(having))) continue;
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
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
export async function insertHeroes(sql: Sql, n: number, place: (i: number) => { lat: number; lng: number }, skills: (i: number) => string[] = () => [],
  status: (i: number) => 'available' | 'assigned' = () => 'available'): Promise<BenchHero[]> {
  const tag = randomBytes(3).toString('hex');
  const heroes: BenchHero[] = [];
  for (let start = 0; start < n; start += 1000) {
    const rows = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      const id = `bh-${tag}-${i}`;
      rows.push({ id, name: `Bench hero ${i}`, skills: skills(i), mode: i % 5 === 0 ? 'air' : 'ground', on_duty: true, status: status(i), status_version: 1 });
      heroes.push({ id, token: '', ...place(i) });
    }
    await sql`insert into heroes ${sql(rows, 'id', 'name', 'skills', 'mode', 'on_duty', 'status', 'status_version')}`;
  }
  await Promise.all(heroes.map(async (h) => { h.token = await auth.sign({ role: 'hero', sub: h.id }); }));
  return heroes;
}

export async function civilianTokens(n: number): Promise<string[]> {
  return (await civilians(n)).map((c) => c.token);
}

/** `n` civilians with their ids (what the server records as `reported_by`). */
export async function civilians(n: number): Promise<{ id: string; token: string }[]> {
  const tag = randomBytes(3).toString('hex');
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const id = `bench-civ-${tag}-${i}`;
    return { id, token: await auth.sign({ role: 'civilian', sub: id }) };
  }));
}

/** A forked benchmark child whose lifetime is tied to the run. */
export function child(file: string, label: string): Child {
  const c = new Child(file, label, progress);
  onCleanup(() => c.stop());
  return c;
}
