// The batcher behind offer acks and wake checks (server/concurrency/tick-batch.ts): calls
// made in one turn of the loop share one load, each is answered with its own key, a key
// the load leaves out is undefined, a failed load fails only its own calls, and a full
// batch goes at once. The statements it batches run through the real server in
// notify.server.test.ts (an ack marks the offer seen; a stale push stops its chain) and
// in guarantees-cluster.test.ts (seen_at after an ack on another member).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TickBatch } from '../server/concurrency/tick-batch.ts';

const test = suite('tick batch');

function recording(fail?: (keys: string[]) => boolean) {
  const loads: string[][] = [];
  const batch = new TickBatch<string, string>(async (keys) => {
    loads.push(keys);
    if (fail?.(keys)) throw new Error(`load of ${keys.join(',')} failed`);
    return new Map(keys.filter((k) => !k.startsWith('unknown')).map((k) => [k, `v:${k}`]));
  }, 3);
  return { batch, loads };
}

test('calls in one turn share one load; each gets its own answer; a repeated key is loaded once', async () => {
  const { batch, loads } = recording();
  const got = await Promise.all([batch.get('a'), batch.get('b'), batch.get('a')]);
  assert.equal(got, ['v:a', 'v:b', 'v:a']);
  assert.equal(loads, [['a', 'b']]);
});

test('a key the load leaves out is answered undefined', async () => {
  const { batch } = recording();
  assert.equal(await Promise.all([batch.get('unknown-1'), batch.get('c')]), [undefined, 'v:c']);
});

test('calls in later turns go in a later load', async () => {
  const { batch, loads } = recording();
  assert.is(await batch.get('a'), 'v:a');
  assert.is(await batch.get('b'), 'v:b');
  assert.equal(loads, [['a'], ['b']]);
});

test('a full batch is loaded at once; the rest of the turn goes in the next', async () => {
  const { batch, loads } = recording();
  const got = await Promise.all(['a', 'b', 'c', 'd'].map((k) => batch.get(k)));
  assert.equal(got, ['v:a', 'v:b', 'v:c', 'v:d']);
  assert.equal(loads, [['a', 'b', 'c'], ['d']]);
});

test('a failed load rejects its own calls and no others', async () => {
  const { batch } = recording((keys) => keys.includes('bad'));
  const first = await Promise.allSettled([batch.get('bad'), batch.get('x')]);
  assert.equal(first.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((first[0] as PromiseRejectedResult).reason), /load of bad,x failed/);
  assert.is(await batch.get('y'), 'v:y', 'the next turn loads again');
});

test.run();
