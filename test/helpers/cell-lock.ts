// Holds a report's dedupe-cell lock from a connection of the test's own, so a report
// at that spot waits inside its transaction (holding its admission slot, batch lane
// and transaction slot) until the test lets it go. Reports of one kind in one ~1 km
// cell are serialised by this advisory lock (server/store/intake.store.ts).
import postgres from 'postgres';
import type { LatLng } from '../../shared/types.ts';
import { eventually } from './clients.ts';
import type { TestServer } from './server.ts';

export interface CellLock {
  /** Resolves once some report waits on the lock. */
  someoneWaits(): Promise<unknown>;
  /** Lets the waiting report go on; safe to call twice. */
  release(): Promise<void>;
}

export async function holdCell(server: TestServer, kind: string, at: LatLng): Promise<CellLock> {
  const cell = `${kind}:${Math.round(at.lat * 100)}:${Math.round(at.lng * 100)}`;
  // Two connections: one holds the lock, the other watches pg_locks.
  const holder = postgres(server.app.config.DATABASE_URL, { max: 2, onnotice: () => {} });
  let open!: () => void;
  const released = new Promise<void>((r) => { open = r; });
  const holding = holder.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${cell}))`;
    await released;
  });
  // This cell's lock only: every server process also holds an advisory lock of its own
  // (the outbox carrier's), and other suites' reports take their cells' locks.
  const locks = async (granted: boolean) =>
    (await holder<{ n: number }[]>`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and objsubid = 1 and objid::bigint = (hashtext(${cell})::bigint & 4294967295) and granted = ${granted}`)[0]!.n;
  let ended: Promise<void> | undefined;
  const release = () => {
    open();
    ended ??= holding.then(() => {}, () => {}).then(() => holder.end());
    return ended;
  };
  try {
    await eventually('the cell lock held', async () => (await locks(true)) > 0);
  } catch (e) {
    await release();
    throw e;
  }
  return { someoneWaits: () => eventually('a report waiting on the cell lock', async () => (await locks(false)) > 0), release };
}
