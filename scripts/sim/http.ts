// HTTP with a deadline on every request, and a retry loop for idempotent calls:
// network errors, timeouts, 5xx and 429 (respecting Retry-After) are retried.
import type { Rng } from './rng.ts';
import { sleep } from './types.ts';

export interface HttpResult { status: number; body: unknown; retryAfterMs: number | null; ms: number }
export type Failure = 'network' | 'server' | 'throttled';

export async function http(method: string, url: string, opts: { token: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number }): Promise<HttpResult> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${opts.token}`,
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  const ra = res.headers.get('retry-after');
  const raS = ra === null ? NaN : Number(ra);
  return { status: res.status, body, retryAfterMs: Number.isFinite(raS) ? Math.min(60_000, Math.max(0, raS * 1000)) : null, ms: performance.now() - t0 };
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

/** A short description of a problem+json body. */
export function problem(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { code?: unknown; title?: unknown; detail?: unknown };
    return [b.code, b.detail ?? b.title].filter((x) => typeof x === 'string').join(': ');
  }
  return typeof body === 'string' ? body.slice(0, 120) : '';
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
