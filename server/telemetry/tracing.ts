// Spans around the steps of a report's path. Without a started SDK (the default) the
// OpenTelemetry API hands out no-op spans, so these wrappers cost a function call or two.
import { context, type Context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('superhero-dispatch');

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/**
 * Runs `work` inside a new span named `name`, a child of the active one. A thrown error
 * marks the span failed and is rethrown unchanged.
 */
export function traced<T>(name: string, attributes: SpanAttributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes: defined(attributes) }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Starts a span the caller ends (for steps that begin and end in different callbacks). */
export function startSpan(name: string, attributes: SpanAttributes, parent: Context = context.active()): Span {
  return tracer.startSpan(name, { attributes: defined(attributes) }, parent);
}

/** The active context, to carry a trace across a queue or a batch into later work. */
export const activeContext = (): Context => context.active();

/** Runs `work` with `ctx` active, so spans it starts join that trace. */
export const withContext = <T>(ctx: Context, work: () => T): T => context.with(ctx, work);

/** Makes `span` the active span while `work` runs. */
export const withSpan = <T>(span: Span, work: () => T): T => context.with(trace.setSpan(context.active(), span), work);

function defined(attributes: SpanAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}
