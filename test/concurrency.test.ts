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

test('a priority limiter frees its slot when a task fails', async () => {
  const limiter = new PriorityLimiter({ concurrency: 1 });
  assert.is(await rejection(limiter.run(0, async () => { throw new Error('boom'); })), 'boom');
  assert.is(await Promise.race([limiter.run(0, async () => 'ran'), sleep(1000).then(() => 'stuck')]), 'ran');
});

test.run();
