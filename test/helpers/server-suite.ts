// A suite with a server of its own (test/helpers/server.ts): started before the first
// test, stopped with its schema and keys dropped after the last, and the invariants
// checked after every test. Extra context (a dispatcher token…) is set by the suite's
// own `before`, which runs after this one.
import { suite, type Test } from 'uvu';
import type { Config } from '../../server/config.ts';
import type { Logger } from '../../server/log.ts';
import { checkInvariants } from './invariants.ts';
import { startServer, type TestServer } from './server.ts';

export function serverSuite<Ctx extends { server: TestServer } = { server: TestServer }>(
  name: string, overrides: Partial<Record<keyof Config, unknown>> = {}, opts: { log?: Logger } = {}): Test<Ctx> {
  const test = suite<Ctx>(name);
  test.before(async (ctx) => { ctx.server = await startServer(overrides, opts); });
  test.after(async (ctx) => { await ctx.server?.stop(); });
  test.after.each(async (ctx) => { await checkInvariants(ctx.server); });
  return test;
}
