// Configuration is read once from the environment, validated with zod, and frozen.
// An unknown or invalid setting stops the start with a message naming it.
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

/** The development secret printed in this repository: never accepted in production. */
export const DEV_SECRET = 'dev-only-secret-change-me-please';

const schema = z.object({
  PORT: int(3000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().default('postgres://root@127.0.0.1:5432/postgres'),
  /** Postgres schema holding our tables; tests give each suite its own. */
  DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
  DB_POOL_SIZE: int(10, 1),
  /** Transactions at once, critical first (0: the pool less the relay's share). */
  DB_TX_CONCURRENCY: int(0, 0),
  /**
   * Transactions beyond DB_TX_CONCURRENCY that only critical work (a critical incident's
   * report or round) may start. In use, they take the connections otherwise left to
   * plain reads, which then wait their turn in the pool's queue.
   */
  DB_TX_CRITICAL_RESERVE: int(2, 0),
  /** Deadline for any one query: a half-open connection must not hang a request. */
  DB_QUERY_TIMEOUT_MS: int(5_000, 100),
  /**
   * Seconds a pooled connection lives (each up to half as long again, so they do not
   * end together). Postgres's cached plans live as long: see server/db.ts.
   */
  DB_CONN_LIFETIME_S: int(60, 1),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key we own; tests give each suite its own. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/).default('sd'),
  JWT_SECRET: z.string().min(16).default(DEV_SECRET),
  /** When set, tokens must carry this `aud` (and this `iss`); tokens we sign carry them. */
  JWT_AUDIENCE: z.string().min(1).max(200).optional(),
  JWT_ISSUER: z.string().min(1).max(200).optional(),
  /** `production` refuses the default or a weak JWT_SECRET (see assertProductionSafe). */
  NODE_ENV: z.string().max(40).default('development'),
  /** Origins allowed to open Socket.IO connections besides the page's own (comma-separated). */
  CORS_ORIGINS: z.string().max(2_000).default(''),
  /** When set, `/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16).max(500).optional(),
  /** `/metrics` is computed at most once per this interval, however often it is scraped. */
  METRICS_CACHE_MS: int(1_000, 0),
  /** Deadline for each Redis call on the report path: intake never waits longer on Redis. */
  REDIS_INTAKE_DEADLINE_MS: int(150, 10),
  /** Per-user budget for every socket event other than pings (per 10 s, per process). */
  SOCKET_EVENTS_PER_10S: int(40, 1),
  /** Per-user budget of socket connects (each costs Postgres queries), per 10 s, per process. */
  SOCKET_CONNECTS_PER_10S: int(10, 1),
  /** Per-IP budget of failed authentications (HTTP and sockets), per minute, per process. */
  AUTH_FAILURES_PER_MIN: int(30, 1),
  /**
   * Per-IP budget of new socket connections, per 10 s, per process. Sized for a carrier
   * NAT: a thousand phones behind one address reconnecting at once must get through.
   */
  CONNECTIONS_PER_10S: int(2_500, 1),
  /**
   * Proxy hops in front of the server whose X-Forwarded-For is trusted for the client
   * address (budgets per IP). 0: the peer address itself; 1 behind the compose nginx.
   */
  TRUST_PROXY: int(0, 0),
  /** How many audit events one `GET …/events` page returns at most. */
  EVENTS_PAGE_MAX: int(500, 1),
  /** The most incidents one page of GET /v1/incidents may hold (`limit`); read in one snapshot. */
  INCIDENTS_PAGE_MAX: int(5000, 1),
  /** Idempotency keys are kept this long (a replay inside it answers as before), then purged. */
  IDEMPOTENCY_RETENTION_MS: int(7 * 24 * 3_600_000, 60_000),
  /**
   * Retention (issue 15, README "What is kept"): finished incidents older than this are
   * archived (ARCHIVE_DIR, with their trail and hash chain) and pruned from Postgres.
   */
  INCIDENT_RETENTION_MS: int(90 * 24 * 3_600_000, 60_000),
  /** Breadcrumbs (hero positions while on an offer or assignment) are kept this long. */
  BREADCRUMB_RETENTION_MS: int(30 * 24 * 3_600_000, 60_000),
  /** How often the cluster's retention job runs (a BullMQ job scheduler). */
  RETENTION_INTERVAL_MS: int(3_600_000, 100),
  /** Incidents archived per retention pass at most: a long backlog is worked off in bounded steps. */
  RETENTION_BATCH: int(500, 1),
  /** Where archive files (`*.jsonl.gz`) are written and where `npm run audit:verify` reads them. */
  ARCHIVE_DIR: z.string().min(1).default('./var/archive'),
  /** Consecutive failed dispatch rounds before dispatchers are alerted with the cause. */
  DISPATCH_FAILURES_ALERT: int(3, 1),
  OFFER_TIMEOUT_MS: int(15_000, 1_000),
  HERO_LOST_AFTER_MS: int(60_000, 1_000),
  /** A hero silent for longer than this is not offered anything. */
  LOCATION_FRESH_MS: int(30_000, 1_000),
  /** Dispatch rounds before an incident escalates to dispatchers. */
  DISPATCH_MAX_ROUNDS: int(3, 1),
  DISPATCH_BASE_RADIUS_KM: z.coerce.number().positive().default(3),
  DISPATCH_MAX_RADIUS_KM: z.coerce.number().positive().default(50),
  /** Delay before retrying a round that found nobody, and the slower pace once escalated. */
  DISPATCH_RETRY_MS: int(2_000, 10),
  /** How long dispatch work may be silent past its due time before the sweeper re-creates it. */
  DISPATCH_DEADLINE_MS: int(3_000, 100),
  /** The sweeper's period: overdue offers, overdue incidents, lost and stale heroes. */
  SWEEP_INTERVAL_MS: int(2_000, 100),
  /** How long an assigned hero may go without progress before the incident counts as stuck. */
  PROGRESS_DEADLINE_MS: int(1_800_000, 1_000),
  ESCALATED_RETRY_MS: int(10_000, 10),
  /** Offers sent at once per severity: a small batch for urgent work, one for the rest. */
  OFFER_BATCH_CRITICAL: int(3, 1),
  OFFER_BATCH_HIGH: int(2, 1),
  OFFER_BATCH_MEDIUM: int(1, 1),
  OFFER_BATCH_LOW: int(1, 1),
  // ---- Learned ranking (issue 16, server/ranking/) ----
  /**
   * `learned`: candidates are ordered by the model's expected time to an accepted
   * arrival (P(accept) and a corrected ETA), when a model is loaded and fresh; else, and
   * with `distance`, by physics ETA as before. `/readyz` details and
   * dispatch_ranking_model say which is in force.
   */
  RANKING_MODE: z.enum(['learned', 'distance']).default('distance'),
  /** The model file written by `npm run train`. */
  RANKING_MODEL_PATH: z.string().min(1).default('server/ranking/model.json'),
  /** A model older than this is stale: distance ranking takes over. */
  RANKING_MODEL_MAX_AGE_MS: int(30 * 24 * 3_600_000, 60_000),
  /** Share of rounds in which one offer goes to a random eligible hero the model ranked lower (no hero starves). */
  RANKING_EXPLORATION_SHARE: z.coerce.number().min(0).max(0.5).default(0.1),
  /** A critical round offers to enough heroes that P(at least one accepts) reaches this (capped by OFFER_BATCH_CRITICAL_MAX). */
  RANKING_TARGET_P: z.coerce.number().min(0.5).max(0.999).default(0.95),
  OFFER_BATCH_CRITICAL_MAX: int(6, 1),
  /** Heroes' offer history (accepts, declines, ignores, answer times) is kept in hourly buckets over this window. */
  RANKING_HISTORY_MS: int(7 * 24 * 3_600_000, 3_600_000),
  OUTBOX_POLL_MS: int(1_000, 10),
  /**
   * Carries beyond the relay's carriers that only critical incidents' rows this process
   * owns may take (issue 14). They hold no pooled connection: their rounds wait for a
   * transaction slot like any other.
   */
  OUTBOX_CARRY_CRITICAL_RESERVE: int(8, 0),
  /** How long relay passes leave a live process's own outbox rows to it (issue 14); it carries them out itself within half of it. */
  OUTBOX_CARRIER_MS: int(30_000, 100),
  LOCATION_FLUSH_MS: int(5, 1),
  /**
   * Breadcrumbs (server/geo/breadcrumbs.sampler.ts): while a hero holds an offer or an
   * assignment, a ping is kept when BREADCRUMB_EVERY_MS passed, or the hero moved
   * BREADCRUMB_MIN_M metres, since the last one kept (or it is the first). Kept points are written every
   * BREADCRUMB_FLUSH_MS; at most BREADCRUMB_BUFFER_MAX wait (the oldest are dropped past it).
   */
  BREADCRUMB_EVERY_MS: int(5_000, 0),
  BREADCRUMB_MIN_M: int(50, 0),
  BREADCRUMB_FLUSH_MS: int(1_000, 10),
  BREADCRUMB_BUFFER_MAX: int(100_000, 1),
  /** GET …/timeline reads at most this many audit events, offers and breadcrumbs (then says `truncated`). */
  TIMELINE_MAX_EVENTS: int(5_000, 1),
  TIMELINE_MAX_OFFERS: int(2_000, 1),
  TIMELINE_MAX_BREADCRUMBS: int(50_000, 1),
  HERO_BATCH_MS: int(1_000, 50),
  /** Per-user budgets: reports per minute, location pings per 10 s. */
  REPORTS_PER_MINUTE: int(30, 1),
  /** A report of the same kind this close to an open incident this recent is linked to it. */
  DEDUPE_RADIUS_M: int(100, 0),
  DEDUPE_WINDOW_MS: int(300_000, 0),
  /**
   * Burst admission: reports being committed at once, how many may wait, and for how
   * long (at the gate, and again for a transaction slot).
   */
  REPORTS_CONCURRENCY: int(64, 1),
  REPORTS_QUEUE_MAX: int(500, 0),
  REPORTS_QUEUE_WAIT_MS: int(2_000, 10),
  /** Critical reports written at once beyond REPORTS_CONCURRENCY: they never wait for a slot held by a lesser report. */
  REPORTS_CRITICAL_RESERVE: int(16, 0),
  /** The event-loop delay (p99 per 250 ms) the report gate keeps under by admitting fewer (0: off), and its floor. */
  REPORTS_LOOP_DELAY_MS: int(50, 0),
  REPORTS_CONCURRENCY_MIN: int(4, 1),
  /** Group commit: reports written in one transaction, and such transactions at once. */
  REPORTS_BATCH_MAX: int(32, 1),
  REPORTS_BATCH_LANES: int(2, 1),
  PINGS_PER_10S: int(50, 1),
  /** An offer the hero's app has not acknowledged by then escalates to push, SMS, voice. */
  OFFER_ACK_MS: int(3_000, 100),
  NOTIFY_PROVIDER: z.enum(['log', 'webhook']).default('log'),
  NOTIFY_WEBHOOK_URL: z.string().url().optional(),
  NOTIFY_TIMEOUT_MS: int(2_000, 50),
  NOTIFY_ATTEMPTS: int(4, 1),
  NOTIFY_BACKOFF_MS: int(500, 10),
  /** Wait between channels while the offer stays unanswered. */
  NOTIFY_STEP_MS: int(4_000, 10),
  // ---- OASIS CAP 1.2 public alerts (server/services/public-alerts.service.ts) ----
  /** The CAP `sender` of every alert: no spaces, commas, `<` or `&` (CAP 1.2 §3.2.1). */
  CAP_SENDER: z.string().min(1).max(200).regex(/^[^\s,<&]+$/, 'no spaces, commas, < or &').default('dispatch@superhero.example'),
  /** A burst: at least this many open critical incidents close together, reported within the window, raise a public alert. */
  CAP_BURST_COUNT: int(5, 2),
  /** How close: every incident of a burst lies within this distance of the burst's first incident. */
  CAP_BURST_RADIUS_KM: z.coerce.number().positive().max(50).default(1),
  CAP_BURST_WINDOW_MS: int(600_000, 1_000),
  /** The circle of a dispatcher's public warning when the mark names no radius. */
  CAP_WARNING_RADIUS_KM: z.coerce.number().positive().max(100).default(1),
  /** The feed lists at most this many alerts, newest first. */
  CAP_FEED_MAX: int(50, 1),
  /** A cancelled alert stays in the feed (as its Cancel message) this long, so readers learn it ended. */
  CAP_FEED_CANCELLED_MS: int(3_600_000, 0),
  /** The feed is built at most once per this interval per process, however often it is read (it is public). */
  CAP_FEED_CACHE_MS: int(1_000, 0),
  /**
   * Our Agency Identifier in NENA EIDO exports (a domain name, NENA-STA-010): it ends
   * every EIDO identifier. The default, under the reserved `.example`, is for development.
   */
  EIDO_AGENCY_ID: z.string().max(253).regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/, 'a domain name').default('dispatch.superhero.example'),
  /** Map tiles for the pages, e.g. an OSM-compatible `https://…/{z}/{x}/{y}.png`; none by default (plain background). */
  MAP_TILES_URL: z.string().max(500).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_GRACE_MS: int(10_000, 100),
  /**
   * Test-only fault injection; `none` in every real deployment.
   * `kill-after-accept-commit`: SIGKILL this process after an accept commits, before its ack.
   */
  FAULT_INJECTION: z.enum(['none', 'kill-after-accept-commit']).default('none'),
  /**
   * Test-only: check every HTTP answer against the schema its route documents
   * (server/http/conformance.ts); `0` in every real deployment.
   */
  HTTP_RESPONSE_CHECK: z.enum(['0', '1']).default('0').transform((v) => v === '1'),
}).strict();

export type Config = Readonly<z.infer<typeof schema>>;
const KNOWN = new Set(Object.keys(schema.shape));

/** Settings we read: our own names only, so the rest of the environment is ignored. */
function pickOurs(env: Record<string, string | undefined>): Record<string, string> {
  const ours: Record<string, string> = {};
  for (const key of KNOWN) {
    const value = env[key];
    if (value !== undefined && value !== '') ours[key] = value;
  }
  return ours;
}

// A variable in one of our families that we do not know is a typo, not someone else's.
const FAMILIES = ['DISPATCH_', 'OFFER_', 'HERO_', 'DB_', 'REDIS_', 'JWT_', 'LOCATION_', 'OUTBOX_',
  'ESCALATED_', 'REPORTS_', 'PINGS_', 'SHUTDOWN_', 'SWEEP_', 'FAULT_', 'PROGRESS_', 'NOTIFY_', 'MAP_', 'DEDUPE_',
  'METRICS_', 'SOCKET_EVENTS_', 'AUTH_', 'CONNECTIONS_', 'EVENTS_', 'IDEMPOTENCY_', 'CORS_', 'TRUST_', 'SOCKET_CONNECTS_', 'CAP_',
  'BREADCRUMB_', 'TIMELINE_', 'EIDO_', 'RANKING_'];

/** Known example secrets: a production server refuses them whatever their length. */
const EXAMPLE_SECRETS = new Set([DEV_SECRET, 'changeme', 'change-me', 'secret', 'password', 'jwt-secret', 'your-secret']);

/**
 * Why this secret is unfit for production, or null. Weak: shorter than 32 characters,
 * a known example, or fewer than 8 distinct characters ("aaaa…", "1212…").
 */
export function weakSecret(secret: string): string | null {
  if (EXAMPLE_SECRETS.has(secret.toLowerCase())) return 'it is the default or an example secret';
  if (secret.length < 32) return `it is ${secret.length} characters; production needs at least 32`;
  if (new Set(secret).size < 8) return 'it repeats too few distinct characters';
  return null;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const unknown = [...Object.keys(env).filter((k) => FAMILIES.some((f) => k.startsWith(f))), ...Object.keys(overrides)]
    .filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new Error(`Invalid configuration: unknown setting(s) ${unknown.join(', ')}`);
  const parsed = schema.safeParse({ ...pickOurs(env), ...overrides });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (parsed.data.NODE_ENV === 'production') {
    const weak = weakSecret(parsed.data.JWT_SECRET);
    if (weak) {
      throw new Error(`Invalid configuration:\n  JWT_SECRET: refusing to start in production: ${weak}.\n`
        + '  Set JWT_SECRET to at least 32 random characters, for example: JWT_SECRET="$(openssl rand -base64 48)"');
    }
  }
  if (parsed.data.NOTIFY_PROVIDER === 'webhook' && !parsed.data.NOTIFY_WEBHOOK_URL) {
    throw new Error('Invalid configuration:\n  NOTIFY_WEBHOOK_URL: required when NOTIFY_PROVIDER is webhook');
  }
  return Object.freeze(parsed.data);
}

/** For entry points: the config, or its message on stderr and exit code 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
}
