// A suite on a real cluster (scripts/cluster.ts): `processes` members sharing one fresh
// schema and key prefix (test/helpers/remote.ts), started before the first test, stopped
// with both dropped after the last, and the invariants checked after every test
// (through member 0: they read the shared stores).
import { suite, type Test } from 'uvu';
import type { Cluster } from '../../scripts/cluster.ts';
import { checkInvariants } from './invariants.ts';
import { openStores, remote, startTestCluster, type Stores } from './remote.ts';
import type { TestServer } from './server.ts';

export type ClusterCtx = { cluster: Cluster; stores: Stores; m: TestServer[] };

export interface ClusterSuiteOptions {
  schema: string;
  prefix: string;
  /** Every member's SWEEP_INTERVAL_MS (the invariants' I4/I7 margins depend on it). */
  sweepMs: number;
  env: Record<string, string>;
  processes?: number;
  /** Runs after the last test, before the members stop (to read what they logged). */
  beforeStop?: (ctx: ClusterCtx) => void;
}

export function clusterSuite(name: string, o: ClusterSuiteOptions): Test<ClusterCtx> {
  const test = suite<ClusterCtx>(name);
  test.before(async (ctx) => {
    ctx.stores = openStores(o.schema, o.prefix);
    ctx.cluster = await startTestCluster(ctx.stores, o.processes ?? 3, { ...o.env, SWEEP_INTERVAL_MS: String(o.sweepMs) }, name);
    ctx.m = ctx.cluster.members.map((member) => remote(ctx.stores, member.url, o.sweepMs));
  });
  test.after(async (ctx) => {
    o.beforeStop?.(ctx);
    try { await ctx.cluster?.stop(); } finally { await ctx.stores?.drop(); }
  });
  test.after.each(async (ctx) => { await checkInvariants(ctx.m[0]!); });
  return test;
}
