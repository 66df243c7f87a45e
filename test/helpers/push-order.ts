// Per-incident push order, checked on what clients received: one incident's
// transactions are carried out one after another (README, outbox), so its pushes
// arrive in the order they were committed, on every member of a cluster.
import * as assert from 'uvu/assert';
import type { Client } from './clients.ts';

export const LIFECYCLE = ['reported', 'dispatching', 'escalated', 'assigned', 'en_route', 'on_scene', 'resolved'] as const;

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

/**
 * The versions of one incident in the dispatcher's `incident` pushes, in arrival order;
 * fails unless they strictly increase (an older version after a newer one is out of order).
 */
export function dispatcherOrder(client: Client, incidentId: string): number[] {
  const versions = client.all<{ id: string; version: number }>('incident').filter((i) => i.id === incidentId).map((i) => i.version);
  assert.ok(versions.length > 0, `the dispatcher got no push for incident ${incidentId}`);
  assert.ok(increasing(versions), `dispatcher pushes for incident ${incidentId} out of order: v${versions.join(' > v')}`);
  return versions;
}

/**
 * The states of one incident in a civilian's `incident:status` pushes, in arrival order.
 * `incident:status` carries no version, so order is read from what it does carry: its
 * `at` (the incident's updatedAt) and its state must both move forward with every push.
 */
export function civilianOrder(client: Client, incidentId: string, lifecycle: readonly string[] = LIFECYCLE): string[] {
  const pushes = client.all<{ incidentId: string; state: string; at: number }>('incident:status').filter((s) => s.incidentId === incidentId);
  assert.ok(pushes.length > 0, `the civilian got no push for incident ${incidentId}`);
  const shown = pushes.map((s) => `${s.state}@${s.at}`).join(' > ');
  assert.ok(pushes.every((s) => lifecycle.includes(s.state)), `civilian pushes in unexpected states: ${shown}`);
  assert.ok(increasing(pushes.map((s) => s.at)), `civilian pushes for incident ${incidentId} out of order (updatedAt): ${shown}`);
  assert.ok(increasing(pushes.map((s) => lifecycle.indexOf(s.state))), `civilian pushes for incident ${incidentId} out of order (state): ${shown}`);
  return pushes.map((s) => s.state);
}
