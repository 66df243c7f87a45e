// Where a committed transaction's outbox rows go in this process: the relay
// (outbox.relay.ts) implements it, and services reach it through ServiceContext.outbox,
// so nothing below the services layer needs to know the relay.

/** What a transaction wrote to the outbox, for the process that commits it to carry out. */
export interface Written { id: string; incidentId: string | null; urgent: boolean }

export interface OutboxSink {
  /**
   * Takes the rows a transaction just committed and carries them out at once. Never
   * throws; rows it cannot take now wait for a relay pass (they are in Postgres).
   */
  carry(rows: Written[]): void;
}
