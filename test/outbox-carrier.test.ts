// Who carries out a transaction's outbox rows (outbox/outbox.buffer.ts): a critical
// incident's rows, every one of them, are named for the carrier asked for urgent rows;
// the same transaction's rows of other incidents for the one asked for the rest. So a
// batch of reports with one critical among them does not keep the others from the relay
// pass when this process's carriers are busy. Read inside the transaction that wrote
// them, before any carry or pass could take them.
import * as assert from 'uvu/assert';
import { enqueue, withOutbox } from '../server/outbox/outbox.buffer.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';

const test = serverSuite('outbox carrier per row', { OUTBOX_POLL_MS: 60_000 });

test('a critical incident\'s rows are named for the urgent carrier, the other incidents\' for the rest\'s', async ({ server }) => {
  const critical = uid('inc-');
  const other = uid('inc-');
  const asked: boolean[] = [];
  const carrier = (urgent: boolean) => { asked.push(urgent); return urgent ? { key: 424_242, forMs: 60_000 } : null; };
  const view = (id: string, severity: string) => ({ id, severity, assignments: [] }) as never;
  const stored = await server.app.sql.begin(async (tx) => {
    const { written: sent } = await withOutbox(tx, async () => {
      enqueue(tx, 'push:incident', { incident: view(critical, 'critical') }, critical);
      enqueue(tx, 'push:withdrawn', { heroId: uid('h-'), offerId: uid('o-'), reason: 'test' }, critical);
      enqueue(tx, 'push:incident', { incident: view(other, 'high') }, other);
    }, carrier);
    const settled = await sent;
    if (!settled.ok) throw settled.error;
    const { written } = settled;
    const rows = await tx<{ incident_id: string; topic: string; carrier: number | null; until: boolean }[]>`
      select incident_id, topic, carrier, carrier_until is not null as until from outbox where id = any(${written.map((w) => w.id)}::bigint[]) order by id`;
    // Taken back out: nothing here is meant to be carried out.
    await tx`delete from outbox where id = any(${written.map((w) => w.id)}::bigint[])`;
    return { written: written.map((w) => [w.incidentId, w.urgent, w.carrier]), rows: rows.map((r) => [r.incident_id, r.topic, r.carrier, r.until]) };
  });
  assert.equal(asked.sort(), [false, true], 'the carrier was asked once for each kind');
  assert.equal(stored.written, [[critical, true, 424_242], [critical, true, 424_242], [other, false, null]]);
  assert.equal(stored.rows, [
    [critical, 'push:incident', 424_242, true],
    [critical, 'push:withdrawn', 424_242, true],
    [other, 'push:incident', null, false],
  ]);
});

test.run();
