// Per-user socket budgets, per process. Budgets belong to the user (role + id), not
// the socket: ten sockets of one user share them. Three buckets: events (every acked
// event, SOCKET_EVENTS_PER_10S), location pings (the hot path, PINGS_PER_10S), and
// connects (each costs Postgres queries: a session, a snapshot, the civilian's open
// incidents; SOCKET_CONNECTS_PER_10S). An event is charged once it is well formed:
// malformed ones are answered `invalid` from memory and never reach Postgres.
import type { TokenClaims } from '../../shared/types.ts';
import type { Config } from '../config.ts';
import { KeyedBuckets } from '../security/buckets.ts';

const WINDOW_MS = 10_000;

export interface UserBudget {
  /** Charges one acked event; false when over budget. */
  event(): boolean;
  /** Charges one location ping; false when over budget. */
  ping(): boolean;
}

// The budget of each connected socket, so `acked` finds it from the socket it serves.
const bySocket = new WeakMap<object, UserBudget>();

/** The budget of the user behind `socket`, once io.ts has admitted it. */
export function budgetOf(socket: unknown): UserBudget | undefined {
  return typeof socket === 'object' && socket !== null ? bySocket.get(socket) : undefined;
}

export class SocketBudgets {
  private readonly events: KeyedBuckets;
  private readonly pings: KeyedBuckets;
  private readonly connects: KeyedBuckets;

  constructor(config: Pick<Config, 'SOCKET_EVENTS_PER_10S' | 'PINGS_PER_10S' | 'SOCKET_CONNECTS_PER_10S'>) {
    this.events = new KeyedBuckets(config.SOCKET_EVENTS_PER_10S, WINDOW_MS);
    this.pings = new KeyedBuckets(config.PINGS_PER_10S, WINDOW_MS);
    this.connects = new KeyedBuckets(config.SOCKET_CONNECTS_PER_10S, WINDOW_MS);
  }

  /** Charges one connect to the user; false when over budget. */
  admit(claims: TokenClaims): boolean {
    return this.connects.take(userKey(claims));
  }

  /** Gives a connected socket its user's budget. */
  attach(socket: object, claims: TokenClaims): void {
    const key = userKey(claims);
    bySocket.set(socket, { event: () => this.events.take(key), ping: () => this.pings.take(key) });
  }
}

const userKey = (claims: TokenClaims) => `${claims.role}:${claims.sub}`;
