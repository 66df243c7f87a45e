// One civilian's report as a real app sends it: one Idempotency-Key for the report,
// reused on every attempt. With a retry policy a 503 or 429 is retried after exactly
// the Retry-After it carried, an attempt with no answer within `noAnswerMs` is retried
// too, and no attempt starts later than `giveUpMs` after the first (nor after
// `lastStartAt`, the caller's cut-off). Without one: one attempt, as the latency groups
// send. `t0` is this process's performance.now(); `sentAt` is the same instant as epoch
// ms at sub-ms resolution (performance.timeOrigin + now), which compares with offers
// timed so in another process on this machine, and with Postgres timestamps.
import { randomUUID } from 'node:crypto';
import { retryAfterMs } from '../lib/wire.ts';
import { post } from './http-post.ts';

export interface RetryPolicy {
  giveUpMs: number;
  noAnswerMs: number;
  /** Pause before retrying an attempt that got no answer (there is no Retry-After to go by). */
  noAnswerPauseMs: number;
  /** Used when a 503/429 carries no readable Retry-After. */
  defaultRetryAfterMs: number;
}

/**
 * What the burst and capacity civilians do: no new attempt after 30 s, one in flight
 * still gets its 10 s; without a Retry-After (a dropped connection, a timeout) wait 1 s,
 * what the server itself says when it has no rate to go by.
 */
export const CIVILIAN_RETRY: RetryPolicy = { giveUpMs: 30_000, noAnswerMs: 10_000, noAnswerPauseMs: 1_000, defaultRetryAfterMs: 1_000 };

export interface Attempt {
  /** 0: no HTTP answer (see `error`). */
  status: number;
  /** From this attempt's send to its answer (or to giving up on it). */
  ms: number;
  error?: string;
  retryAfterMs?: number;
}

export interface ReportRow {
  /** The report's index in its run, and its civilian's index in the list given. */
  i: number;
  civ: number;
  severity: string;
  /** The last attempt's status (0 = no answer). */
  status: number;
  /** The incident a 2xx answered with. */
  id: string | null;
  /** First attempt sent: performance.now(), and as epoch ms (timeOrigin + now). */
  t0: number;
  sentAt: number;
  /** The last attempt's own time. */
  httpMs: number;
  /** First offer for `id` to a hero socket of the same agent, minus t0 (null in an agent without sockets). */
  offerMs: number | null;
  error?: string;
  attempts: Attempt[];
  /** No 2xx, and the last attempt asked for another (503, 429, no answer): the civilian stopped. */
  gaveUp: boolean;
  /** Stopped by the caller's cut-off (`lastStartAt`) rather than by `giveUpMs`. */
  cut: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function attempt(url: string, token: string, key: string, body: unknown, timeoutMs: number): Promise<Attempt & { id: string | null }> {
  const t = performance.now();
  try {
    const res = await post(`${url}/v1/incidents`, { token, body, headers: { 'idempotency-key': key }, timeoutMs });
    const ra = res.status === 503 || res.status === 429 ? retryAfterMs(res.headers) : null;
    const id = res.status < 300 ? (res.body as { id?: string } | undefined)?.id ?? null : null;
    return { status: res.status, ms: performance.now() - t, id, ...(ra === null ? {} : { retryAfterMs: ra }) };
  } catch (e) {
    // No HTTP answer: timeout, refused or reset connection (recorded by cause).
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    return { status: 0, ms: performance.now() - t, id: null, error: cause };
  }
}

export async function sendReport(a: {
  i: number; civ: number; severity: string; url: string; token: string; body: unknown;
  retry?: RetryPolicy; lastStartAt?: number;
}): Promise<ReportRow> {
  const key = randomUUID();
  const t0 = performance.now();
  const sentAt = performance.timeOrigin + t0;
  const attempts: Attempt[] = [];
  const policy = a.retry;
  for (;;) {
    const x = await attempt(a.url, a.token, key, a.body, policy?.noAnswerMs ?? 30_000);
    const { id, ...rec } = x;
    attempts.push(rec);
    const done = (gaveUp: boolean, cut = false): ReportRow => ({
      i: a.i, civ: a.civ, severity: a.severity, status: x.status, id, t0, sentAt, httpMs: x.ms, offerMs: null,
      ...(x.error ? { error: x.error } : {}), attempts, gaveUp, cut,
    });
    const again = x.status === 503 || x.status === 429 || x.status === 0;
    if (!policy || !again) return done(false);
    const wait = x.status === 0 ? policy.noAnswerPauseMs : x.retryAfterMs ?? policy.defaultRetryAfterMs;
    const next = performance.now() + wait;
    if (next - t0 > policy.giveUpMs) return done(true);
    if (a.lastStartAt !== undefined && next > a.lastStartAt) return done(true, true);
    await sleep(wait);
  }
}
