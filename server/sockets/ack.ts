// Socket handlers parse, call, and answer with exactly one ack. They never throw: an
// async handler that throws would become an unhandled rejection (DESIGN §4).
import type { z } from 'zod';
import type { Ack } from '../../shared/ack.ts';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import { toFieldErrors } from '../../shared/schemas.ts';
import { isAppError, toRefusalReason } from '../errors.ts';
import type { Logger } from '../log.ts';
import { budgetOf } from './budgets.ts';

type Reply = (answer: Ack) => void;

/** Rough size of a parsed payload, to refuse oversized ones inside the transport cap. */
function tooLarge(payload: unknown): boolean {
  try {
    return JSON.stringify(payload ?? null).length > MAX_SOCKET_PAYLOAD_BYTES;
  } catch {
    return true;
  }
}

/**
 * An acked event handler for `socket.on(event, …)`. Past size and schema checks, the
 * event is charged to the user's budget (SOCKET_EVENTS_PER_10S, found from the socket
 * it is registered on: Socket.IO calls listeners with the socket as `this`); over
 * budget it answers `rate_limited` and `run` (Postgres) is never reached.
 */
export function acked<S extends z.ZodType, R extends object>(
  log: Logger,
  event: string,
  schema: S,
  run: (input: z.infer<S>) => Promise<R> | R,
): (...args: unknown[]) => void {
  return function (this: unknown, ...args: unknown[]) {
    const last = args[args.length - 1];
    const reply: Reply = typeof last === 'function' ? (last as Reply) : () => {};
    // With an ack callback as the only argument, there is no payload at all.
    const payload = typeof last === 'function' && args.length === 1 ? undefined : args[0];
    if (tooLarge(payload)) {
      reply({ ok: false, reason: 'invalid', errors: [{ path: '(root)', message: `payload over ${MAX_SOCKET_PAYLOAD_BYTES} bytes` }] });
      return;
    }
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      reply({ ok: false, reason: 'invalid', errors: toFieldErrors(parsed.error) });
      return;
    }
    if (budgetOf(this)?.event() === false) {
      reply({ ok: false, reason: 'rate_limited' });
      return;
    }
    Promise.resolve()
      .then(() => run(parsed.data))
      .then(
        (result) => reply({ ok: true, ...result }),
        (err: unknown) => {
          if (isAppError(err)) {
            reply({ ok: false, reason: toRefusalReason(err) });
          } else {
            log.error({ err, event }, 'socket handler failed');
            reply({ ok: false, reason: 'internal' });
          }
        },
      )
      .catch((err: unknown) => log.error({ err, event }, 'ack failed'));
  };
}
