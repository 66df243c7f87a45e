// Provider adapters for notifications beyond the socket (DESIGN §3 "Notify").
// A provider makes exactly one delivery attempt per call: retries, backoff and
// dead-lettering belong to the queue (notifier.ts), so they are counted in one place.
import type { Logger } from '../log.ts';

export type Channel = 'push' | 'sms' | 'voice';
/** Escalation order: each channel is tried only after the previous one settled. */
export const CHANNELS: readonly Channel[] = Object.freeze(['push', 'sms', 'voice'] as const);

export interface Message {
  /** Idempotency key of this one message: the same on every retry of it. */
  key: string;
  channel: Channel;
  heroId: string;
  offerId: string;
  incidentId: string;
  text: string;
}

export interface Provider {
  readonly name: string;
  /** Resolves once the provider accepted the message; throws otherwise. */
  send(msg: Message): Promise<void>;
}

/** The default: no real provider configured, so the message goes to the log. */
export class LoggingProvider implements Provider {
  readonly name = 'log';
  constructor(private readonly log: Logger) {}

  async send(msg: Message): Promise<void> {
    const { key, channel, heroId, offerId, incidentId, text } = msg;
    this.log.info({ incidentId, offerId, heroId, channel, key, text }, 'notification (logging provider)');
  }
}

export interface WebhookOptions { url: string; timeoutMs: number }

/** POSTs the message as JSON; the provider de-duplicates retries by `Idempotency-Key`. */
export class WebhookProvider implements Provider {
  readonly name = 'webhook';
  constructor(private readonly opts: WebhookOptions) {
    if (!opts.url) throw new Error('WebhookProvider needs a url');
    if (!(opts.timeoutMs > 0)) throw new Error('WebhookProvider needs a positive timeoutMs');
  }

  async send(msg: Message): Promise<void> {
    const { key, channel, heroId, offerId, incidentId, text } = msg;
    const what = `webhook ${channel} ${key}`;
    // One deadline for the whole exchange, body included: a half-open peer must not
    // hold a worker slot (and the job lock) forever.
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ key, channel, heroId, offerId, incidentId, text }),
        signal,
      });
    } catch (err) {
      throw new Error(`${what}: ${describe(err, this.opts.timeoutMs)}`, { cause: err });
    }
    // Drain the body so the keep-alive socket is reused. A 2xx whose body is cut off
    // still counts as delivered: the provider already said yes.
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`${what}: HTTP ${res.status}`);
  }
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `network error: ${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}

export type ProviderKind = 'log' | 'webhook';
export interface ProviderOptions { log: Logger; url?: string; timeoutMs?: number }

/** Builds the configured adapter; `webhook` needs `url` (timeout defaults to 5 s). */
export function createProvider(kind: ProviderKind, opts: ProviderOptions): Provider {
  switch (kind) {
    case 'log':
      return new LoggingProvider(opts.log);
    case 'webhook':
      if (!opts.url) throw new Error('the webhook provider needs a url');
      return new WebhookProvider({ url: opts.url, timeoutMs: opts.timeoutMs ?? 5_000 });
  }
}
