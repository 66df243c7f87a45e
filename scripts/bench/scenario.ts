// A latency scenario: the real server in its own process (or `processes` of them, one
// cluster), heroes inserted on duty, and one agent process (scripts/bench/agent.ts)
// holding their sockets, spread over the processes, and sending reports.
import { Redis } from 'ioredis';
import { redisKeys } from '../../server/redis.ts';
import type { Behaviour } from './agent.ts';
import type { Child } from './ipc.ts';
import { child, config, insertHeroes, progress, sleep, startServerUnderTest, type BenchHero, type ServerUnderTest } from './common.ts';

export interface Scenario { server: ServerUnderTest; agent: Child; heroes: BenchHero[] }

export async function withScenario<T>(label: string, env: Record<string, string>,
  heroes: { n: number; place: (i: number) => { lat: number; lng: number }; behaviour: Behaviour; skills?: (i: number) => string[] },
  run: (s: Scenario) => Promise<T>, processes = 1): Promise<T> {
  const server = await startServerUnderTest(label, env, processes);
  const agent = child('./agent.ts', `${label} agent`);
  try {
    const list = await insertHeroes(server.sql, heroes.n, heroes.place, heroes.skills);
    const { connected } = await agent.call<{ connected: number }>('connect', {
      url: server.urls.map((u) => `${u}/hero`), heroes: list, behaviour: heroes.behaviour, pingEveryMs: 10_000,
    });
    if (connected < heroes.n) throw new Error(`${label}: only ${connected}/${heroes.n} hero sockets connected`);
    // Each hero's first ping makes the server copy its status from Postgres into Redis.
    await waitAvailable(server, heroes.n);
    progress(`${label}: ${connected} heroes connected, on duty and in the available set`);
    return await run({ server, agent, heroes: list });
  } finally {
    await agent.call('close').catch(() => null);
    await agent.stop();
    await server.stop();
  }
}

/**
 * A second agent process that only sends reports (no sockets), so the heroes' process
 * times offers without waiting behind thousands of HTTP requests on its own loop.
 */
export async function withCivilians<T>(label: string, run: (civilians: Child) => Promise<T>): Promise<T> {
  const civilians = child('./agent.ts', `${label} civilians`);
  try {
    return await run(civilians);
  } finally {
    await civilians.stop();
  }
}

async function waitAvailable(server: ServerUnderTest, n: number): Promise<void> {
  const redis = new Redis(config.REDIS_URL);
  try {
    const until = Date.now() + 30_000;
    let have = 0;
    while (Date.now() < until) {
      have = await redis.zcard(redisKeys(server.prefix).available);
      if (have >= n) return;
      await sleep(200);
    }
    throw new Error(`only ${have}/${n} heroes reached the available set`);
  } finally {
    redis.disconnect();
  }
}
