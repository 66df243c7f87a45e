// `npm start`: one complete dispatch server. SIGTERM/SIGINT drain it within the grace.
// Traces go out when the standard OTEL_* variables ask for them (server/telemetry/sdk.ts).
import { createApp } from '../server/app.ts';
import { loadConfigOrExit } from '../server/config.ts';
import { startTelemetry } from '../server/telemetry/sdk.ts';

const config = loadConfigOrExit();
const app = createApp(config);
const telemetry = startTelemetry(process.env, app.log);
app.start().catch((err) => {
  app.log.fatal({ err }, 'could not start');
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    app.log.info({ signal }, 'draining');
    app.stop()
      .then(() => telemetry?.shutdown())
      .then(() => process.exit(0), () => process.exit(1));
  });
}
process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled rejection'));
