// The HTTP span of a request (`POST /v1/incidents`): the root of a report's trace, so
// the steps server/telemetry/tracing.ts opens under the handler (the report transaction
// and what follows from it) join it. Without a started OpenTelemetry SDK (the default)
// the span is a no-op and this costs a function call or two per request.
import { type Span, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { startSpan, withSpan } from '../telemetry/tracing.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's span: a handler may add attributes (`incident.id`). */
    span: Span | undefined;
  }
}

export function traceRequests(app: FastifyInstance): void {
  app.decorateRequest('span', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    const span = startSpan(route ? `${req.method} ${route}` : req.method, {});
    // Attributes only for a span that records (the SDK is on, and this trace sampled).
    if (span.isRecording()) span.setAttributes({ 'http.request.method': req.method, ...(route ? { 'http.route': route } : {}) });
    req.span = span;
    done();
  });
  // The handler runs with the span active, so the spans it opens are its children.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (req, reply) { return req.span ? withSpan(req.span, () => handler.call(this, req, reply)) : handler.call(this, req, reply); };
  });
  const end = (req: { span: Span | undefined }, status: number) => {
    req.span?.setAttribute('http.response.status_code', status);
    if (status >= 500) req.span?.setStatus({ code: SpanStatusCode.ERROR });
    req.span?.end();
    req.span = undefined;
  };
  // No onRequestAbort hook: it costs a listener per request (about a quarter of a
  // health check's time); a span that never ends is dropped by the SDK.
  app.addHook('onResponse', (req, reply, done) => { end(req, reply.statusCode); done(); });
}
