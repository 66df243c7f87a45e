// The two in-process queues the relay and the accept path rely on: per-key order, and
// urgent work first under a concurrency cap.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyedMutex } from '../server/concurrency/keyed-mutex.ts';
import { PriorityLimiter } from '../server/concurrency/priority-limiter.ts';
import { sleep } from './helpers/clients.ts';

/** The error a promise rejected with (uvu/assert has no async `rejects`). */
const rejection = (p: Promise<unknown>) => p.then(() => assert.unreachable('it resolved'), (e: Error) => e.message);

const test = suite('in-process queues');

test('a keyed mutex runs one key in order and different keys side by side', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  let inA = 0;
  let maxInA = 0;
  const a = (n: number, ms: number) => mutex.run('a', async () => {
    inA += 1; maxInA = Math.max(maxInA, inA);
    await sleep(ms);
    log.push(`a${n}`);
    inA -= 1;
    return n;
  });
  const results = await Promise.all([a(1, 30), a(2, 1), mutex.run('b', async () => { log.push('b'); return 0; }), a(3, 1)]);
  assert.equal(results, [1, 2, 0, 3]);
  assert.equal(log, ['b', 'a1', 'a2', 'a3'], 'b did not wait for a; a kept its order');
  assert.is(maxInA, 1);
  assert.is(mutex.size, 0, 'keys are forgotten when idle');
});

test('work on several keys waits for each key\'s earlier work, and later work on any of them waits for it', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  const step = (name: string, keys: string[], ms: number) => mutex.runAll(keys, async () => {
    log.push(`${name}+`);
    await sleep(ms);
    log.push(`${name}-`);
  });
  await Promise.all([
    step('a', ['a'], 20), step('b', ['b'], 5), // earlier work on two keys
    step('batch', ['a', 'b', 'c'], 10), // a batch of incidents' effects
    step('b2', ['b'], 1), step('c2', ['c'], 1), step('d', ['d'], 1), // later work
  ]);
  const at = (e: string) => log.indexOf(e);
  assert.ok(at('batch+') > at('a-') && at('batch+') > at('b-'), `the batch waited for a and b: ${log}`);
  assert.ok(at('b2+') > at('batch-') && at('c2+') > at('batch-'), `later work on its keys waited for it: ${log}`);
  assert.ok(at('d-') < at('batch+'), `another key did not wait: ${log}`);
  assert.is(mutex.size, 0);
});

test('a keyed mutex goes on after a failure', async () => {
  const mutex = new KeyedMutex();
  const failed = mutex.run('k', async () => { throw new Error('boom'); });
  const next = mutex.run('k', async () => 'next');
  assert.is(await rejection(failed), 'boom');
  assert.is(await next, 'next');
});

test('a priority limiter caps concurrency and starts the lowest rank first', async () => {
  const limiter = new PriorityLimiter({ concurrency: 2 });
  const started: string[] = [];
  let running = 0;
  let peak = 0;
  const job = (name: string, rank: number) => limiter.run(rank, async () => {
    started.push(name);
    running += 1; peak = Math.max(peak, running);
    await sleep(15);
    running -= 1;
  });
  const all = [job('first', 1), job('second', 1), job('low', 1), job('urgent', 0), job('low2', 1)];
  assert.is(limiter.waiting, 3);
  await Promise.all(all);
  assert.is(peak, 2);
  assert.equal(started, ['first', 'second', 'urgent', 'low', 'low2']);
  assert.is(limiter.waiting, 0);
});

test('a priority limiter\'s urgent reserve starts rank-0 tasks while lesser work holds every slot, and never lends it to lesser work', async () => {
  const limiter = new PriorityLimiter({ concurrency: 1, urgentReserve: 1 });
  const hold = () => { let open!: () => void; const p = new Promise<void>((r) => { open = r; }); return { p, open }; };
  const low = hold();
  const started: string[] = [];
  const job = (name: string, rank: number, until: Promise<void>) => limiter.run(rank, async () => { started.push(name); await until; });
  const turn = () => new Promise<void>((r) => setImmediate(r)); // tasks start a microtask after their slot
  const busy = job('low-busy', 1, low.p);
  const lowWaiting = job('low-waiting', 1, Promise.resolve());
  // The only ordinary slot is held: an urgent task starts at once in the reserve...
  const urgent = hold();
  const first = job('urgent-1', 0, urgent.p);
  await turn();
  assert.equal(started, ['low-busy', 'urgent-1']);
  assert.is(limiter.active, 2);
  // ...a second waits (the reserve is one), ahead of the low task that came earlier.
  const second = job('urgent-2', 0, Promise.resolve());
  assert.equal(limiter.waiting, 2);
  assert.is(limiter.waitingAhead(0), 1);
  // The reserved slot frees: it passes to the waiting urgent task, not the low one.
  urgent.open();
  await first;
  await second;
  assert.equal(started, ['low-busy', 'urgent-1', 'urgent-2']);
  // With no urgent task waiting, a freed reserved slot is given up: the low task still waits.
  await turn();
  assert.is(limiter.active, 1);
  assert.is(limiter.waiting, 1);
  low.open();
  await busy;
  await lowWaiting;
  assert.equal(started, ['low-busy', 'urgent-1', 'urgent-2', 'low-waiting']);
  assert.is(limiter.active, 0);
});

test('a priority limiter frees its slot when a task fails', async () => {
  const limiter = new PriorityLimiter({ concurrency: 1 });
  assert.is(await rejection(limiter.run(0, async () => { throw new Error('boom'); })), 'boom');
  assert.is(await Promise.race([limiter.run(0, async () => 'ran'), sleep(1000).then(() => 'stuck')]), 'ran');
});

test.run();
