// The OpenTelemetry SDK, started only when the standard OTEL_* variables ask for traces:
// OTEL_TRACES_EXPORTER (otlp, console, zipkin) or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). OTEL_SDK_DISABLED=true
// wins. The SDK reads everything else itself (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, …).
// No auto-instrumentation: the spans are the ones server/telemetry/tracing.ts opens on the
// report's path, which is what an operator follows.
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Logger } from '../log.ts';

export interface Telemetry { shutdown(): Promise<void> }

/** Whether these variables ask for traces. */
export function tracesWanted(env: NodeJS.ProcessEnv): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.length) return !exporters.every((e) => e === 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts the SDK when the environment asks for traces; otherwise does nothing. */
export function startTelemetry(env: NodeJS.ProcessEnv, log: Logger): Telemetry | undefined {
  if (!tracesWanted(env)) return undefined;
  const sdk = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? 'superhero-dispatch', instrumentations: [] });
  sdk.start();
  log.info({ exporter: env.OTEL_TRACES_EXPORTER ?? 'otlp' }, 'tracing on');
  return { shutdown: () => sdk.shutdown() };
}
