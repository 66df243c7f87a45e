// The verifier alone (server/audit/audit.verifier.ts), over chains built with the
// server's own hashing: any one edited, deleted or inserted row is found, named by
// kind and seq, whatever the trail's length and wherever the row sits. Property-based
// (fast-check); the same tampering through the real server is in audit-chain.test.ts.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventHash, GENESIS, canonicalJson } from '../server/audit/audit.chain.ts';
import { verifyTrail, type TrailEvent, type TrailHead } from '../server/audit/audit.verifier.ts';

const ID = 'inc-verifier';

function chain(n: number, from = 1, prev = GENESIS): TrailEvent[] {
  const out: TrailEvent[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const e = { seq, type: seq === 1 ? 'REPORTED' : 'STEP', from: seq === 1 ? null : 's', to: 's', actor: 'system', atUs: 1_700_000_000_000_000 + seq, data: { n: seq } };
    const hash = eventHash(prev, { ...e, incidentId: ID });
    out.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}
const headOf = (events: TrailEvent[]): TrailHead => ({ id: ID, version: events.length, auditHead: events[events.length - 1]!.hash, state: 's', snapshot: {} });
const rehash = (e: TrailEvent): TrailEvent => ({ ...e, hash: eventHash(e.prevHash!, { ...e, incidentId: ID }) });

test('canonical JSON sorts keys at every depth and drops what JSON drops', () => {
  assert.is(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: undefined }], c: 'x' } }), '{"a":{"c":"x","d":[1,{"z":0}]},"b":1}');
});

test('an untouched chain breaks nowhere (its replay is another matter: these events are not the machine\'s)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), (n) => {
    const events = chain(n);
    const r = verifyTrail(headOf(events), events);
    // A synthetic trail cannot replay; everything before the replay must hold.
    assert.ok(r.broken === null || r.broken.kind === 'replay', JSON.stringify(r.broken));
  }));
});

test('any one tampered row is named: edited, re-hashed, deleted (with or without renumbering) or inserted', () => {
  const tamper = fc.record({
    n: fc.integer({ min: 3, max: 25 }),
    at: fc.nat(),
    how: fc.constantFrom('edit', 'edit-rehash', 'delete', 'delete-renumber', 'delete-tail', 'insert-renumber', 'insert-tail'),
  });
  fc.assert(fc.property(tamper, ({ n, at, how }) => {
    const events = chain(n);
    const head = headOf(events);
    const i = 1 + (at % (n - 1)); // never the first row: seq 2..n
    const seq = i + 1;
    let rows = events.slice();
    let expected: { kind: string; seq: number };
    switch (how) {
      case 'edit':
        rows[i] = { ...rows[i]!, data: { n: -1 } };
        expected = { kind: 'edited', seq };
        break;
      case 'edit-rehash':
        if (i === n - 1) return; // the last row re-hashed is caught by the head (below)
        rows[i] = rehash({ ...rows[i]!, actor: 'forger' });
        expected = { kind: 'edited', seq };
        break;
      case 'delete':
        if (i === n - 1) return;
        rows.splice(i, 1);
        expected = { kind: 'deleted', seq };
        break;
      case 'delete-renumber':
        if (i === n - 1) return;
        rows.splice(i, 1);
        rows = rows.map((e, k) => (k >= i ? { ...e, seq: e.seq - 1 } : e));
        expected = { kind: 'deleted', seq };
        break;
      case 'delete-tail':
        rows = rows.slice(0, n - 1);
        expected = { kind: 'deleted', seq: n };
        break;
      case 'insert-renumber': {
        // A forged row that links correctly to the one before it, and a renumbered rest.
        const forged = rehash({ ...rows[i]!, seq, prevHash: rows[i - 1]!.hash, actor: 'forger', data: { forged: true } });
        rows = [...rows.slice(0, i), forged, ...rows.slice(i).map((e) => ({ ...e, seq: e.seq + 1 }))];
        expected = { kind: 'inserted', seq };
        break;
      }
      case 'insert-tail': {
        const last = rows[n - 1]!;
        rows.push(rehash({ ...last, seq: n + 1, prevHash: last.hash, actor: 'forger' }));
        expected = { kind: 'inserted', seq: n + 1 };
        break;
      }
    }
    const r = verifyTrail(head, rows);
    assert.ok(r.broken, `${how} at seq ${seq} of ${n} went unnoticed`);
    assert.equal({ kind: r.broken!.kind, seq: r.broken!.seq }, expected!, `${how} at seq ${seq} of ${n}: ${r.broken!.message}`);
  }), { numRuns: 500 });
});

test('the last row edited and re-hashed no longer matches the head kept on the incident', () => {
  const events = chain(5);
  const rows = [...events.slice(0, 4), rehash({ ...events[4]!, actor: 'forger' })];
  const r = verifyTrail(headOf(events), rows);
  assert.equal([r.broken?.kind, r.broken?.seq], ['edited', 5]);
});

test('rows written before the chain are counted, not failed; a hash removed after it starts is an edit', () => {
  const legacy: TrailEvent[] = [1, 2].map((seq) => ({ seq, type: 'X', from: null, to: 's', actor: 'a', atUs: seq, data: {}, prevHash: null, hash: null }));
  const rest = chain(3, 3);
  const ok = verifyTrail({ ...headOf(rest), version: 5 }, [...legacy, ...rest]);
  assert.is(ok.unchained, 2);
  assert.ok(ok.broken === null || ok.broken.kind === 'replay');
  const stripped = [...legacy, rest[0]!, { ...rest[1]!, hash: null, prevHash: null }, rest[2]!];
  assert.equal([verifyTrail({ ...headOf(rest), version: 5 }, stripped).broken?.kind], ['edited']);
});

test.run();
