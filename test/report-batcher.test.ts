// The batcher's own rules, with the commit step given as a function: a lone report is
// written at once, reports that arrive during a batch go in the next one (most urgent
// first, bounded), a batch that fails is written report by report so that one bad
// report costs the others nothing, and a database that is away refuses the whole batch.
// What a batch does in Postgres is test/group-commit.test.ts, through the real server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AppError } from '../server/errors.ts';
import { createLogger } from '../server/log.ts';
import { createMetrics } from '../server/metrics.ts';
import type { ServiceContext } from '../server/services/context.ts';
import { ReportBatcher } from '../server/services/report.batcher.ts';
import type { Report, ReportOutcome } from '../server/services/report.service.ts';
import type { IncidentView } from '../shared/types.ts';

const test = suite('report batcher');
const ctx = { metrics: createMetrics(), log: createLogger('silent') } as unknown as ServiceContext;

const report = (key: string, severity: 'critical' | 'high' | 'low' = 'high'): Report =>
  ({ civilianId: 'civ', key, input: { kind: 'fire', severity, location: { lat: 1, lng: 2 } } });
const made = (r: Report): ReportOutcome => ({ ok: true, created: true, incident: { id: r.key } as IncidentView });

/** A commit step that records its batches and finishes each when told. */
function recorder(fail: (batch: Report[]) => Error | null = () => null) {
  const batches: string[][] = [];
  const pending: (() => void)[] = [];
  const commit = (_ctx: ServiceContext, reports: Report[]) => {
    batches.push(reports.map((r) => r.key));
    return new Promise<ReportOutcome[]>((resolve, reject) => {
      pending.push(() => {
        const err = fail(reports);
        if (err) reject(err);
        else resolve(reports.map(made));
      });
    });
  };
  const finishAll = async () => {
    for (let guard = 0; guard < 100 && pending.length; guard++) {
      pending.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { batches, commit, finishAll };
}

test('a lone report is written at once; those arriving meanwhile go together, most urgent first; a critical one does not wait for a lane', async () => {
  const rec = recorder();
  const batcher = new ReportBatcher(ctx, { maxBatch: 3, lanes: 1 }, rec.commit);
  const answers = [batcher.submit(report('a'))];
  assert.equal(rec.batches, [['a']], 'written without waiting for company');
  answers.push(batcher.submit(report('b', 'low')), batcher.submit(report('c')), batcher.submit(report('d', 'critical')), batcher.submit(report('e', 'low')), batcher.submit(report('f', 'low')));
  assert.equal(rec.batches, [['a'], ['d']], 'one lane, busy: the critical report takes a lane of its own at once, the rest wait');
  await rec.finishAll();
  assert.equal(rec.batches, [['a'], ['d'], ['c', 'b', 'e'], ['f']], 'at most maxBatch together');
  assert.equal((await Promise.all(answers)).map((x) => x.incident.id), ['a', 'b', 'c', 'd', 'e', 'f']);
});

test('a failed batch is written report by report: only the bad report is refused', async () => {
  const rec = recorder((batch) => (batch.some((r) => r.key === 'bad') ? new Error('boom') : null));
  const batcher = new ReportBatcher(ctx, { maxBatch: 8, lanes: 1 }, rec.commit);
  const first = batcher.submit(report('first'));
  const rest = ['x', 'bad', 'y'].map((k) => batcher.submit(report(k)).then((o) => o.incident.id, (e: AppError) => e.code));
  await rec.finishAll();
  await first;
  assert.equal(await Promise.all(rest), ['x', 'internal', 'y']);
  assert.equal(rec.batches, [['first'], ['x', 'bad', 'y'], ['x'], ['bad'], ['y']]);
});

test('a database that is away refuses the whole batch at once, without retrying each', async () => {
  const rec = recorder((batch) => (batch.length > 1 ? new AppError('unavailable', 'the database connection dropped; retry', { retryAfterS: 1 }) : null));
  const batcher = new ReportBatcher(ctx, { maxBatch: 8, lanes: 1 }, rec.commit);
  const first = batcher.submit(report('first'));
  const rest = ['x', 'y'].map((k) => batcher.submit(report(k)).then(() => 'written', (e: AppError) => e.code));
  await rec.finishAll();
  await first;
  assert.equal(await Promise.all(rest), ['unavailable', 'unavailable']);
  assert.is(rec.batches.length, 2);
});

test.run();
