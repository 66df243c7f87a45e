// `npx tsx scripts/trace-report.ts [N]`: where a report's time goes, read from its trace.
// Starts a server in this process with tracing on (an in-memory exporter), places N
// heroes far apart, sends one report beside each in turn (one at a time, a quiet
// machine's path), waits for the offer on the hero's socket, and prints, per span of
// the report's trace, when it started after the HTTP request began and how long it took
// (p50 / p95 over the N traces).
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { startInProcess } from './lib/in-process-server.ts';
import { uid } from './lib/lifecycle.ts';
import { pct } from './lib/stats.ts';
import { call, connected, openSocket } from './lib/wire.ts';

const N = Number(process.argv[2] ?? 100);
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

const server = await startInProcess({ LOG_LEVEL: 'silent', DISPATCH_RETRY_MS: 600_000 });
const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
try {
  const dispatcher = await server.app.auth.sign({ role: 'dispatcher', sub: uid('disp-') });
  const rows: Map<string, { start: number[]; took: number[] }> = new Map();
  for (let i = 0; i < N; i++) {
    // Heroes 0.3° apart (~30 km): each report's search finds only its own hero.
    const at = { lat: -60 + Math.floor(i / 100) * 0.3, lng: -170 + (i % 100) * 0.3 };
    const hero = (await call('POST', `${server.url}/v1/heroes`, { token: dispatcher, body: { name: `Hero ${i}`, skills: [], mode: 'ground' } })).body;
    const heroToken = await server.app.auth.sign({ role: 'hero', sub: hero.id });
    const socket = await connected(openSocket(`${server.url}/hero`, { token: heroToken }, { reconnect: false }), 5_000);
    await socket.timeout(5_000).emitWithAck('duty', { onDuty: true });
    socket.emit('location', { lat: at.lat, lng: at.lng + 0.004 });
    const offered = new Promise<void>((resolve) => socket.once('offer', () => resolve()));
    await new Promise((r) => setTimeout(r, 150)); // the ping's batch reaches Redis
    exporter.reset();
    const civilian = await server.app.auth.sign({ role: 'civilian', sub: uid('civ-') });
    const res = await call('POST', `${server.url}/v1/incidents`, {
      token: civilian, headers: { 'idempotency-key': uid('k-') }, body: { kind: 'fire', severity: 'critical', location: at },
    });
    if (res.status !== 201) throw new Error(`report answered ${res.status}`);
    await Promise.race([offered, new Promise((_, no) => setTimeout(() => no(new Error('no offer within 5 s')), 5_000))]);
    await new Promise((r) => setTimeout(r, 20)); // the emit span ends after the socket write
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'POST /v1/incidents');
    if (!root) throw new Error('no HTTP span');
    const t0 = ms(root.startTime);
    for (const s of spans.filter((x: ReadableSpan) => x.spanContext().traceId === root.spanContext().traceId)) {
      const row = rows.get(s.name) ?? { start: [], took: [] };
      row.start.push(ms(s.startTime) - t0);
      row.took.push(ms(s.duration));
      rows.set(s.name, row);
    }
    socket.disconnect();
    if ((i + 1) % 20 === 0) process.stderr.write(`  ${i + 1}/${N} reports traced\n`);
  }
  const f = (x: number) => x.toFixed(2).padStart(7);
  console.log(`\nOne report's trace, ${N} reports one at a time (ms; p50 / p95):\n`);
  console.log('| span | starts after the request began | takes |');
  console.log('|---|---|---|');
  const order = [...rows.entries()].sort((a, b) => pct(a[1].start, 0.5) - pct(b[1].start, 0.5));
  for (const [name, r] of order) {
    console.log(`| ${name} (×${(r.took.length / N).toFixed(1)}) | ${f(pct(r.start, 0.5))} / ${f(pct(r.start, 0.95))} | ${f(pct(r.took, 0.5))} / ${f(pct(r.took, 0.95))} |`);
  }
} finally {
  await server.stop();
  await provider.shutdown();
  trace.disable();
  context.disable();
}
