// Starts a real dispatch server for one test file (scripts/lib/in-process-server.ts):
// its own Postgres schema and Redis key prefix, port 0, real connections. `stop` drops
// what it created.
import { startInProcess, type InProcessServer } from '../../scripts/lib/in-process-server.ts';
import type { Config } from '../../server/config.ts';
import type { Logger } from '../../server/log.ts';
import type { Role } from '../../shared/domain.ts';

export { uid } from '../../scripts/lib/lifecycle.ts';

export interface TestServer extends InProcessServer {
  token(role: Role, id: string, ttlSeconds?: number): Promise<string>;
}

/**
 * `opts.log` replaces the server's logger (a suite may capture what the server logs).
 * Every test server checks its HTTP answers against the OpenAPI document's schemas
 * (HTTP_RESPONSE_CHECK); checkInvariants fails a scenario that saw a mismatch.
 */
export async function startServer(overrides: Partial<Record<keyof Config, unknown>> = {}, opts: { log?: Logger } = {}): Promise<TestServer> {
  const server = await startInProcess({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', OUTBOX_POLL_MS: 200, HTTP_RESPONSE_CHECK: '1', ...overrides }, opts);
  return { ...server, token: (role, id, ttl) => server.app.auth.sign({ role, sub: id }, ttl) };
}
