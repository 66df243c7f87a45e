// The burst gate in isolation (pure logic, no I/O): severity orders the queue, a full
// queue refuses with 503 + Retry-After before anything runs, and a critical report may
// displace the least urgent one waiting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Admission } from '../server/admission.ts';
import { isAppError } from '../server/errors.ts';

const gate = () => { let open!: () => void; const p = new Promise<void>((r) => { open = r; }); return { p, open }; };

test('waiting reports are admitted critical first, then in arrival order', async () => {
  const admission = new Admission({ concurrency: 1, maxQueue: 10, maxWaitMs: 5_000 });
  const hold = gate();
  const order: string[] = [];
  const first = admission.run('low', () => hold.p);
  const rest = (['low', 'medium', 'critical', 'high', 'critical'] as const).map((sev, i) =>
    admission.run(sev, async () => { order.push(`${sev}${i}`); }));
  assert.is(admission.waiting, 5);
  hold.open();
  await Promise.all([first, ...rest]);
  assert.equal(order, ['critical2', 'critical4', 'high3', 'medium1', 'low0']);
});

test('a full queue refuses with unavailable and Retry-After; nothing runs', async () => {
  const admission = new Admission({ concurrency: 1, maxQueue: 1, maxWaitMs: 5_000 });
  const hold = gate();
  let ran = 0;
  const busy = admission.run('high', () => hold.p);
  const queued = admission.run('high', async () => { ran += 1; });
  const refused = await admission.run('high', async () => { ran += 100; }).catch((e) => e);
  assert.ok(isAppError(refused) && refused.status === 503 && refused.retryAfterS === 1, String(refused));
  // A critical report displaces the waiting high one.
  const critical = admission.run('critical', async () => { ran += 10; });
  const displaced = await queued.catch((e) => e);
  assert.ok(isAppError(displaced) && displaced.status === 503);
  hold.open();
  await Promise.all([busy, critical]);
  assert.is(ran, 10);
});

test('a report that waits too long is refused', async () => {
  const admission = new Admission({ concurrency: 1, maxQueue: 10, maxWaitMs: 50 });
  const hold = gate();
  const busy = admission.run('low', () => hold.p);
  const late = await admission.run('low', async () => 'ran').catch((e) => e);
  assert.ok(isAppError(late) && late.code === 'unavailable');
  hold.open();
  await busy;
  assert.is(await admission.run('low', async () => 'free again'), 'free again');
});

test.run();
