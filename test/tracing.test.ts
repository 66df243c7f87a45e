// One report, one trace: the spans of its path read back through an in-memory exporter.
// The SDK is registered for this file only (tracing is off by default, and the other
// suites run without it); the report's HTTP span is the root, and every later step
// joins the same trace: the report transaction (with a lone report's first round in
// it, or else the outbox carry and a dispatch round with its search and transaction)
// and the offer emit.
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tracesWanted } from '../server/telemetry/sdk.ts';
import { eventually } from './helpers/clients.ts';
import { startServer, uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

const test = suite<{ server: TestServer; exporter: InMemorySpanExporter; provider: NodeTracerProvider }>('tracing');

test.before(async (ctx) => {
  ctx.exporter = new InMemorySpanExporter();
  ctx.provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(ctx.exporter)] });
  ctx.provider.register(); // also installs the AsyncLocalStorage context manager
  ctx.server = await startServer({ DISPATCH_RETRY_MS: 600_000 });
});
test.after(async (ctx) => {
  await ctx.server?.stop();
  await ctx.provider?.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

/** The spans of the trace whose root is this incident's report, once every wanted name is in it. */
function traceOf(exporter: InMemorySpanExporter, incidentId: string, wanted: string[]): Promise<ReadableSpan[]> {
  return eventually('the report trace complete', () => {
    const all = exporter.getFinishedSpans();
    const root = all.find((s) => s.name === 'POST /v1/incidents' && s.attributes['incident.id'] === incidentId);
    if (!root) return undefined;
    const mine = all.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    return wanted.every((n) => mine.some((s) => s.name === n)) ? mine : undefined;
  }, 5_000).catch((e: Error) => {
    const names = exporter.getFinishedSpans().map((s) => `${s.name}(${s.spanContext().traceId.slice(0, 6)})`);
    throw new Error(`${e.message}; spans seen: ${names.join(', ')}`);
  });
}

test('one report produces one trace: HTTP, the search beside it, the report transaction with its first round, outbox carry, offer emit', async ({ server, exporter }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const civToken = await server.token('civilian', uid('civ-'));
  exporter.reset();
  const { status, incident } = await report(server, civToken, { kind: 'medical', severity: 'critical', location: center });
  assert.is(status, 201);
  await hero.client.next('offer', (o) => o.incident.id === incident.id);

  const spans = await traceOf(exporter, incident.id, ['POST /v1/incidents', 'dispatch.search', 'report.transaction', 'dispatch.round', 'dispatch.rank', 'outbox.carry', 'offer.emit']);
  const byName = (n: string) => spans.filter((s) => s.name === n);
  const root = byName('POST /v1/incidents')[0]!;
  assert.is(parentOf(root), undefined, 'the HTTP span is the root');
  assert.is(root.attributes['http.response.status_code'], 201);
  const tx = byName('report.transaction')[0]!;
  assert.is(parentOf(tx), root.spanContext().spanId, 'the report transaction runs inside the request');
  assert.is(parentOf(byName('dispatch.search')[0]!), root.spanContext().spanId, 'the search runs inside the request, beside the transaction');
  // The first round runs inside the report's transaction (services/report.first-round.ts).
  const round = byName('dispatch.round').find((s) => s.attributes['incident.id'] === incident.id)!;
  assert.is(parentOf(round), tx.spanContext().spanId, 'the round inside the report transaction');
  assert.is(round.attributes['dispatch.outcome'], 'offered');
  assert.ok(byName('offer.emit').some((s) => s.attributes['hero.id'] === hero.id), 'offer emitted to the hero');
  closeAll(hero);
});

test('a team\'s report keeps its round apart: HTTP, report transaction, outbox carry, round (search, transaction), offer emit', async ({ server, exporter }) => {
  const center = area();
  const heroes = [await heroOnline(server, center, 0.5), await heroOnline(server, center, 0.7)];
  await matchable(server, heroes);
  const civToken = await server.token('civilian', uid('civ-'));
  exporter.reset();
  const { status, incident } = await report(server, civToken, { kind: 'medical', severity: 'critical', location: center, needs: [{ skill: null, count: 2 }] });
  assert.is(status, 201);
  await heroes[0]!.client.next('offer', (o) => o.incident.id === incident.id);

  const spans = await traceOf(exporter, incident.id, ['POST /v1/incidents', 'report.transaction', 'outbox.carry', 'dispatch.round', 'dispatch.search', 'dispatch.transaction', 'offer.emit']);
  const byName = (n: string) => spans.filter((s) => s.name === n);
  const root = byName('POST /v1/incidents')[0]!;
  assert.is(parentOf(byName('report.transaction')[0]!), root.spanContext().spanId);
  // The round's search and transaction are children of a round of this incident.
  const rounds = byName('dispatch.round').filter((s) => s.attributes['incident.id'] === incident.id);
  assert.ok(rounds.length >= 1, 'a round of this incident');
  const roundIds = new Set(rounds.map((r) => r.spanContext().spanId));
  assert.ok(byName('dispatch.search').some((s) => roundIds.has(parentOf(s)!)), 'search inside the round');
  assert.ok(byName('dispatch.transaction').some((s) => roundIds.has(parentOf(s)!)), 'transaction inside the round');
  assert.ok(byName('offer.emit').some((s) => s.attributes['hero.id'] === heroes[0]!.id), 'offer emitted to the hero');
  closeAll(...heroes);
});

test('tracing is off unless the OTEL_* variables ask for it', () => {
  assert.is(tracesWanted({}), false);
  assert.is(tracesWanted({ OTEL_TRACES_EXPORTER: 'none' }), false);
  assert.is(tracesWanted({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
  assert.is(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
  assert.is(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), false);
});

test.run();
