// Where a committed transaction's outbox rows go in this process: the relay
// (outbox.relay.ts) implements it, and services reach it through ServiceContext.outbox,
// so nothing below the services layer needs to know the relay.
import type { Carrier } from '../store/outbox.store.ts';
import type { OutboxRow } from './outbox.topics.ts';

/**
 * What a transaction wrote to the outbox, for the process that commits it to carry out:
 * the row as a relay pass would read it, and the carrier key it names (null: none).
 */
export interface Written { id: string; incidentId: string | null; urgent: boolean; row: OutboxRow; carrier: number | null }

export interface OutboxSink {
  /**
   * Who carries out the rows a transaction writes now: this process (by its key) once
   * it holds its carrier lock; null until then, and the rows are claimed as any pass would.
   * `urgent`: the rows include a critical incident's, which may take a carrier held in reserve.
   */
  carrier(urgent?: boolean): Carrier | null;
  /**
   * Takes the rows a transaction just committed and carries them out at once. Never
   * throws; rows it cannot take now wait for a relay pass (they are in Postgres).
   */
  carry(rows: Written[]): void;
}
