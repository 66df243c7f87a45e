// The burst gate in isolation (pure logic, no I/O): severity orders the queue, a full
// queue refuses with 503 + Retry-After before anything runs, and a critical report may
// displace the least urgent one waiting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Admission, MAX_RETRY_AFTER_S, retryAfterFor } from '../server/admission.ts';
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

test('a critical report is written at once while lesser reports hold every slot, up to REPORTS_CRITICAL_RESERVE more', async () => {
  const admission = new Admission({ concurrency: 1, criticalReserve: 1, maxQueue: 10, maxWaitMs: 5_000 });
  const hold = gate();
  const order: string[] = [];
  const busy = admission.run('low', () => hold.p);
  const high = admission.run('high', async () => { order.push('high'); });
  const critical = hold.p.then(() => 'late');
  // Written while the low report still holds the only ordinary slot and a high one waits.
  assert.is(await Promise.race([admission.run('critical', async () => { order.push('critical'); return 'now'; }), critical]), 'now');
  assert.equal(order, ['critical']);
  assert.is(admission.waiting, 1);
  hold.open();
  await Promise.all([busy, high]);
  assert.equal(order, ['critical', 'high']);
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

test('Retry-After is the backlog ahead over the measured rate, stretched ×[1, 2) by jitter, between 1 and 60 s', () => {
  assert.is(retryAfterFor(100, null, 0.5), 1, 'no rate measured yet: 1 s');
  assert.is(retryAfterFor(100, 10, 0), 10, '100 ahead at 10/s: 10 s');
  assert.is(retryAfterFor(100, 10, 0.999), 20, 'the longest jitter doubles it');
  assert.is(retryAfterFor(200, 10, 0), 20, 'twice the backlog, twice the wait');
  assert.is(retryAfterFor(1, 100, 0), 1, 'never under a second');
  assert.is(retryAfterFor(1_000_000, 1, 0), MAX_RETRY_AFTER_S, 'never over a minute');
  // Clients refused together are told different times, spread over [10, 20].
  const told = new Set(Array.from({ length: 50 }, (_, i) => retryAfterFor(100, 10, i / 50)));
  assert.ok(told.size >= 10 && Math.min(...told) === 10 && Math.max(...told) === 20, [...told].join(','));
});

/** A gate on a clock of our own whose reports have been finishing at 4 a second (20 over 5 s). */
async function atFourPerSecond(opts: { maxQueue: number; maxWaitMs: number }): Promise<Admission> {
  let clock = 1_000_000;
  const admission = new Admission({ concurrency: 1, ...opts, now: () => clock, random: () => 0 });
  for (let i = 0; i < 20; i++) { await admission.run('low', async () => {}); clock += 250; }
  clock -= 250;
  return admission;
}

test('a refused report is told how long the work ahead of it takes to clear at the rate reports finish', async () => {
  const admission = await atFourPerSecond({ maxQueue: 20, maxWaitMs: 60_000 });
  const hold = gate();
  const busy = admission.run('low', () => hold.p);
  const queued = Array.from({ length: 20 }, () => admission.run('low', async () => {}));
  // Full of low reports: another low one has 1 running + 20 waiting ahead of it.
  const low = await admission.run('low', async () => {}).catch((e) => e);
  assert.ok(isAppError(low) && low.status === 503);
  assert.is(low.retryAfterS, Math.ceil(21 / 4), String(low.retryAfterS));
  // A critical report displaces a low one instead, which is told when to come back.
  const critical = admission.run('critical', async () => {});
  const displaced = await Promise.race(queued.map((q) => q.then(() => null, (e) => e)));
  assert.ok(isAppError(displaced) && displaced.status === 503 && (displaced.retryAfterS ?? 0) >= 1);
  hold.open();
  await Promise.allSettled([busy, critical, ...queued]);
});

test('a report that would wait past REPORTS_QUEUE_WAIT_MS at the rate reports finish is refused at once; a critical one waits', async () => {
  // 4 a second: 2 s of waiting holds 8 reports.
  const admission = await atFourPerSecond({ maxQueue: 100, maxWaitMs: 2_000 });
  const hold = gate();
  const busy = admission.run('low', () => hold.p);
  const queued = Array.from({ length: 7 }, () => admission.run('low', async () => {}));
  assert.is(admission.shed('low'), null, '1 running + 7 ahead: 2 s, not more');
  queued.push(admission.run('low', async () => {}));
  const late = admission.shed('low');
  assert.ok(late !== null && late >= 1, 'the 9th would wait 2.25 s: refused before it waits, with a Retry-After');
  assert.is(admission.shed('critical'), null, 'critical reports go first: never refused for the low ones ahead');
  hold.open();
  await Promise.all([busy, ...queued]);
});

test('a full gate sheds reports without an error, and says how many at most once a second', async () => {
  let clock = 5_000;
  const told: [number, number][] = [];
  const admission = new Admission({ concurrency: 1, maxQueue: 0, maxWaitMs: 5_000, now: () => clock, random: () => 0, onShed: (n, ms) => told.push([n, ms]) });
  assert.is(admission.shed('low'), null, 'a free slot: not shed');
  const hold = gate();
  const busy = admission.run('low', () => hold.p);
  // Refusals are counted, and told once a second has passed since the last telling.
  for (let i = 0; i < 5; i++) { assert.is(admission.shed('low'), 1); clock += 100; }
  assert.equal(told, []);
  clock = 6_000;
  assert.is(admission.shed('high'), 1);
  assert.equal(told, [[6, 1_000]]);
  clock = 6_500;
  assert.is(admission.shed('low'), 1);
  assert.equal(told, [[6, 1_000]]);
  hold.open();
  await busy;
  assert.is(admission.shed('critical'), null);
});

test('a late event loop lowers how many reports are written at once, a quiet one raises it back; off by default', async () => {
  const admission = new Admission({ concurrency: 64, maxQueue: 100, maxWaitMs: 2_000, loopDelayMs: 50, minConcurrency: 4 });
  admission.adjust(120);
  assert.is(admission.concurrency, 42);
  for (let i = 0; i < 20; i++) admission.adjust(200);
  assert.is(admission.concurrency, 4, 'never below the floor');
  admission.adjust(40);
  assert.is(admission.concurrency, 4, 'between half the target and the target: kept');
  admission.adjust(10);
  assert.is(admission.concurrency, 8, 'a sixteenth of the maximum more');
  for (let i = 0; i < 20; i++) admission.adjust(1);
  assert.is(admission.concurrency, 64, 'never above the maximum');
  const fixed = new Admission({ concurrency: 6, maxQueue: 10, maxWaitMs: 2_000 });
  fixed.adjust(1_000);
  assert.is(fixed.concurrency, 6);
});

test('a lowered concurrency lets running reports finish and starts no new one until below it; raised, waiting ones start', async () => {
  const admission = new Admission({ concurrency: 3, maxQueue: 10, maxWaitMs: 5_000, loopDelayMs: 50, minConcurrency: 1 });
  const holds = [gate(), gate(), gate()];
  let running = 0;
  let peak = 0;
  const job = (i: number) => admission.run('high', async () => {
    running += 1;
    peak = Math.max(peak, running);
    await holds[i % 3]!.p;
    running -= 1;
  });
  const first = [job(0), job(1), job(2)];
  admission.adjust(100); // 3 → 2
  admission.adjust(100); // 2 → 1
  const later = [job(0), job(1)];
  assert.is(admission.waiting, 2);
  holds[0]!.open();
  await first[0];
  await new Promise((r) => setImmediate(r));
  assert.is(admission.waiting, 2, 'over the lowered limit: a finished report gives its slot up');
  for (let i = 0; i < 4; i++) admission.adjust(1); // back up to 3
  holds[1]!.open();
  holds[2]!.open();
  await Promise.all([...first, ...later]);
  assert.is(peak, 3);
});

test.run();
