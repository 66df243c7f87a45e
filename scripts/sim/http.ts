// The simulator's HTTP (scripts/lib/wire.ts, a deadline on every request), and a retry
// loop for idempotent calls: network errors, timeouts, 5xx and 429 (respecting
// Retry-After) are retried.
import { call, problem, retryAfterMs, type Answer, type CallOptions } from '../lib/wire.ts';
import type { Rng } from './rng.ts';
import { sleep } from './types.ts';

export interface HttpResult extends Answer<unknown> { retryAfterMs: number | null }
export type Failure = 'network' | 'server' | 'throttled';

export async function http(method: string, url: string, opts: CallOptions & { token: string }): Promise<HttpResult> {
  const answer = await call<unknown>(method, url, opts);
  return { ...answer, retryAfterMs: retryAfterMs(answer.headers) };
}

export interface RetryOptions {
  rng: Rng;
  maxAttempts: number;
  /** performance.now() after which no new attempt starts. */
  giveUpAt: () => number;
  onFailure?: (kind: Failure, detail: string) => void;
}

/**
 * Repeats `attempt` until it answers something other than a retryable failure.
 * Returns the final answer, or null if every attempt failed (or time ran out).
 */
export async function withRetry(attempt: () => Promise<HttpResult>, o: RetryOptions): Promise<HttpResult | null> {
  for (let n = 0; n < o.maxAttempts; n++) {
    let wait: number;
    try {
      const r = await attempt();
      const retryable = r.status === 429 || r.status >= 500;
      if (!retryable) return r;
      o.onFailure?.(r.status === 429 ? 'throttled' : 'server', `HTTP ${r.status} ${problem(r.body)}`);
      wait = r.retryAfterMs ?? backoff(n, o.rng);
    } catch (e) {
      o.onFailure?.('network', (e as Error).name === 'TimeoutError' ? 'timeout' : (e as Error).message);
      wait = backoff(n, o.rng);
    }
    if (n + 1 >= o.maxAttempts || performance.now() + wait > o.giveUpAt()) return null;
    await sleep(wait);
  }
  return null;
}

function backoff(n: number, rng: Rng): number {
  return Math.min(8_000, 250 * 2 ** n) * rng.range(0.5, 1.5);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
