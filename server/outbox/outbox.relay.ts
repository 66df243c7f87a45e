// Carries out outbox rows after their transaction commits, two ways:
// - carry: the process that committed a transaction carries out its rows at once,
//   one transaction's rows at a time per incident (so an incident's pushes keep their
//   order), urgent (critical) work first when there is a backlog;
// - pass: a poll claims whatever is left (rows of a process that died, rows a busy
//   process left behind, rows whose effect failed) in id order.
// The committing process is its rows' carrier (issue 14): they name its key, and it
// runs them from memory with no claim transaction, then deletes the rows of many
// carries in one statement. A pass never takes rows whose carrier lives (it holds a
// session advisory lock on a connection of its own, which dies with the process) and
// has not run past `carrier_until`; a carry that waited half that long claims its
// rows as a pass does instead. Passes claim with SKIP LOCKED. A row is deleted only
// after its effect succeeded: effects run at least once and are idempotent. createApp
// builds one relay per process and hands it to the services as their OutboxSink; what
// each row does is outbox.executor.ts.
import type { Config } from '../config.ts';
import type { Sql, Tx } from '../db.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { KeyedMutex } from '../concurrency/keyed-mutex.ts';
import { PriorityLimiter } from '../concurrency/priority-limiter.ts';
import { claimOutbox, claimOutboxIds, deleteOutbox, holdCarrierLock, releaseOutbox, type Carrier } from '../store/outbox.store.ts';
import { activeContext, traced, withContext } from '../telemetry/tracing.ts';
import type { OutboxSink, Written } from './outbox.sink.ts';
import type { OutboxRow } from './outbox.topics.ts';

/** `carry` runs a committed transaction's rows (dispatch rounds inline); `pass` is the backlog. */
export type OutboxMode = 'carry' | 'pass';
export type OutboxExecutor = (rows: OutboxRow[], mode: OutboxMode) => Promise<Set<string>>; // ids carried out

const BATCH = 200;
/** The carry rank that may take a reserved carrier (critical rows this process owns). */
const OWN_URGENT = 0;

export interface RelayOptions {
  pollMs: number;
  /** Transactions carried out at once; each may hold two pooled connections. */
  carryConcurrency: number;
  /** Carries beyond `carryConcurrency` that only critical incidents' rows may take. */
  carryCriticalReserve: number;
  /** Beyond this many waiting, new rows are left to the next pass (work goes through BullMQ). */
  carryMaxWaiting: number;
  /** How long passes leave a live carrier's rows alone; it runs them itself only within half of it. */
  carrierMs: number;
  log: Logger;
  metrics: Metrics;
}

/** The relay's limits from the configuration. */
export function relayLimits(config: Config): Pick<RelayOptions, 'pollMs' | 'carryConcurrency' | 'carryCriticalReserve' | 'carryMaxWaiting' | 'carrierMs'> {
  return {
    pollMs: config.OUTBOX_POLL_MS,
    carrierMs: config.OUTBOX_CARRIER_MS,
    // A carry that claims holds its claim transaction's connection while an inline
    // round takes another: a third of the pool leaves the rest for reports and accepts.
    // (A carry of this process's own rows holds none; the slots are not resized for it.)
    carryConcurrency: Math.max(1, Math.floor(config.DB_POOL_SIZE / 3)),
    carryCriticalReserve: config.OUTBOX_CARRY_CRITICAL_RESERVE,
    carryMaxWaiting: 64,
  };
}

export class OutboxRelay implements OutboxSink {
  private running = false;
  private again = false;
  private stopped = false;
  private poll: NodeJS.Timeout | undefined;
  private current: Promise<void> = Promise.resolve();
  private readonly perIncident = new KeyedMutex();
  private readonly carriers: PriorityLimiter;
  private readonly carrying = new Set<Promise<void>>();
  /** Set by `start`: until then rows wait in Postgres for the first pass. */
  private execute: OutboxExecutor | undefined;
  /** This process's carrier key while it holds the key's lock. */
  private key: number | null = null;
  private toDelete: string[] = [];
  private toRelease: string[] = [];
  private settling: Promise<void> | null = null;
  private settled: Promise<void> = Promise.resolve();

  /** `lockSql`: a connection of its own (max 1) that holds the carrier lock for the process's life. */
  constructor(
    private readonly sql: Sql,
    private readonly opts: RelayOptions,
    private readonly lockSql: Sql | null = null,
  ) {
    this.carriers = new PriorityLimiter({ concurrency: opts.carryConcurrency, urgentReserve: opts.carryCriticalReserve });
  }

  /** Carries running and waiting for a carrier (a gauge). */
  get carries(): { active: number; waiting: number } {
    return { active: this.carriers.active, waiting: this.carriers.waiting };
  }

  /** Carries out rows from now on with `execute`, and polls for what is left. */
  start(execute: OutboxExecutor): void {
    this.execute = execute;
    this.poll = setInterval(() => {
      void this.holdKey();
      this.kick();
    }, this.opts.pollMs);
    void this.holdKey();
    this.kick();
  }

  carrier(urgent = false): Carrier | null {
    // Only while a carry can start at once. When carries wait (a burst), rows are
    // written for any pass to claim, as before issue 14: a pass takes a backlog in
    // batches and hands its rounds to BullMQ in severity order, where a queued carry
    // of this process's own would hold them (critical ones too) until its turn.
    // A critical incident's rows are always this process's own: their carry goes first,
    // in a reserved carrier if one is free, and holds no pooled connection while it waits.
    // Claimed instead, they would wait behind lesser carries for a carrier the pool was
    // sized for (seconds in a burst).
    if (this.key === null || this.stopped) return null;
    const free = urgent || (this.carriers.waiting === 0 && this.carriers.active < this.carriers.limit);
    return free ? { key: this.key, forMs: this.opts.carrierMs } : null;
  }

  /** Takes (or keeps) the carrier lock; without it, rows are written for any pass to claim. */
  private async holdKey(): Promise<void> {
    if (!this.lockSql || this.stopped) return;
    const key = this.key ?? 1 + Math.floor(Math.random() * 0x7fff_fffe);
    try {
      // Lost (the connection dropped and another process took the key): a new key next time.
      this.key = (await holdCarrierLock(this.lockSql, key)) ? key : null;
    } catch (err) {
      this.key = null;
      this.opts.log.warn({ err }, 'outbox carrier lock unavailable; rows go to relay passes');
    }
  }

  /** Carries out rows this process just committed. Never throws. */
  carry(rows: Written[]): void {
    if (this.stopped || !this.execute || rows.length === 0) return;
    // A batch of reports commits rows of many incidents. A critical incident's rows are
    // carried out on their own, so they never wait behind the other incidents' queues
    // (a linked incident's earlier carry and its round); the rest go together.
    const urgent = new Set(rows.flatMap((r) => (r.urgent && r.incidentId ? [r.incidentId] : [])));
    const rest = rows.filter((r) => !r.incidentId || !urgent.has(r.incidentId));
    for (const id of urgent) this.carryTogether(rows.filter((r) => r.incidentId === id));
    if (rest.length) this.carryTogether(rest);
  }

  private carryTogether(rows: Written[]): void {
    const urgent = rows.some((r) => r.urgent);
    const ids = rows.map((r) => r.id);
    // Rows that name this process's key while it still holds it are its own to run.
    const carried = this.key !== null && rows.every((r) => r.carrier === this.key);
    if (this.carriers.waiting >= this.opts.carryMaxWaiting && !urgent) {
      // A backlog: batched passes are cheaper per row than a carry per commit. Rows this
      // process carries are released first: no pass takes them while it lives.
      if (!carried) this.kick();
      else releaseOutbox(this.sql, ids).then(() => this.kick(), (err) => this.opts.log.warn({ err }, 'could not hand outbox rows to the relay pass; they go after OUTBOX_CARRIER_MS'));
      return;
    }
    // A batch of reports commits rows of many incidents: carried out together, under
    // every one of their queues, so each incident's effects keep their order.
    const keys = [...new Set(rows.map((r) => r.incidentId ?? r.id))];
    const key = keys[0]!;
    // Only a critical carry of rows this process owns takes a reserved carrier: it holds
    // no pooled connection while its round waits for a transaction. One that must claim
    // its rows holds its claim's connection, so it waits for one of the carriers the pool
    // was sized for, ahead of less urgent carries. (An own carry that waited past half of
    // carrier_until claims too; in the reserve that takes seconds of critical backlog.)
    const rank = urgent ? (carried ? OWN_URGENT : 1) : 2;
    // Within half of carrier_until the rows are ours alone; later a pass may be taking
    // them, so they are claimed as a pass does.
    const ownUntil = Date.now() + this.opts.carrierMs / 2;
    // The carry joins the trace of the transaction that wrote the rows, even when it
    // waits its turn behind other carries.
    const parent = activeContext();
    let whole: Promise<unknown> = Promise.resolve();
    // The incident's next transaction may start once these effects ran; deleting the
    // rows need not hold it up.
    const executed = this.perIncident.runAll(keys, () => new Promise<void>((ran) => {
      whole = this.carriers.run(rank, () => withContext(parent, () => traced('outbox.carry', { 'incident.id': key, 'outbox.incidents': keys.length, 'outbox.rows': ids.length },
        () => (carried && this.key === rows[0]!.carrier && Date.now() < ownUntil
          ? this.runOwn(rows.map((r) => r.row), ran)
          : this.claimAndRun((tx) => claimOutboxIds(tx, ids), 'carry', ran)))));
      whole.finally(ran).catch(() => {});
    }));
    const done = executed.then(() => whole)
      .then(() => undefined, (err) => this.opts.log.warn({ err, incidentId: key }, 'carrying out outbox rows failed; the relay pass will retry'));
    this.carrying.add(done);
    void done.finally(() => this.carrying.delete(done));
  }

  /** Rows this process is the carrier of: run from memory, then deleted (or handed to passes) with other carries'. */
  private async runOwn(rows: OutboxRow[], executed: () => void): Promise<number> {
    const done = await this.execute!(rows, 'carry');
    executed();
    this.count(rows, done, 'carry');
    await this.settle([...done], rows.filter((r) => !done.has(r.id)).map((r) => r.id));
    return done.size;
  }

  /**
   * Deletes carried-out rows and releases failed ones, for every carry of this tick in
   * one statement each, one such write at a time. If it fails the rows stay named for
   * this process, and passes take them again after OUTBOX_CARRIER_MS (at least once).
   */
  private settle(done: string[], failed: string[]): Promise<void> {
    this.toDelete.push(...done);
    this.toRelease.push(...failed);
    if (!this.settling) {
      const before = this.settled;
      this.settling = (async () => {
        await before;
        await new Promise<void>((r) => setImmediate(r));
        this.settling = null;
        const del = this.toDelete.splice(0);
        const rel = this.toRelease.splice(0);
        this.settled = Promise.all([deleteOutbox(this.sql, del), releaseOutbox(this.sql, rel)]).then(() => undefined,
          (err) => this.opts.log.warn({ err, rows: del.length + rel.length }, 'could not settle carried outbox rows; relay passes take them after OUTBOX_CARRIER_MS'));
        await this.settled;
      })();
    }
    return this.settling;
  }

  private count(rows: OutboxRow[], done: Set<string>, mode: OutboxMode): void {
    for (const row of rows) {
      if (done.has(row.id)) this.opts.metrics.outboxRelayed.inc({ topic: row.topic, mode });
      else this.opts.metrics.outboxFailures.inc({ topic: row.topic });
    }
  }

  /** Runs a relay pass now, or right after the one under way. */
  kick(): void {
    if (this.stopped || !this.execute) return;
    if (this.running) { this.again = true; return; }
    this.running = true;
    this.current = this.drain().finally(() => { this.running = false; });
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.claimAndRun((tx) => claimOutbox(tx, BATCH), 'pass')) === BATCH) { /* a full batch: more may wait */ }
      } catch (err) {
        this.opts.log.error({ err }, 'outbox relay pass failed; will retry');
      }
    } while (this.again && !this.stopped);
  }

  private async claimAndRun(claim: (tx: Tx) => Promise<OutboxRow[]>, mode: OutboxMode, executed?: () => void): Promise<number> {
    const execute = this.execute;
    if (!execute) return 0; // carry and kick run only once started
    return (await this.sql.begin(async (tx) => {
      const rows = await claim(tx);
      if (rows.length === 0) return 0;
      const done = await execute(rows, mode);
      executed?.();
      await deleteOutbox(tx, [...done]);
      this.count(rows, done, mode);
      return done.size;
    })) as number;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    await Promise.all([this.current, ...this.carrying]);
    await this.settling;
    await this.settled;
  }
}
