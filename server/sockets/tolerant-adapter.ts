// The Socket.IO Redis adapter, made safe to use while Redis is away. The adapter
// publishes without awaiting, and Socket.IO asks it for the server count (an emit with
// an ack) without a catch: each broadcast would leave an unhandled rejection behind.
// Broadcasts are at most once anyway (clients re-sync from `session` / `snapshot`), so
// a failed publish is dropped, and a count Redis cannot give is this server alone.
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';

function quietPublisher(pub: Redis): Redis {
  const publish = pub.publish.bind(pub) as (...args: unknown[]) => Promise<number>;
  (pub as unknown as { publish: typeof publish }).publish = (...args) => {
    const sent = publish(...args);
    sent.catch(() => {});
    return sent;
  };
  return pub;
}

export function tolerantRedisAdapter(pub: Redis, sub: Redis, key: string): ReturnType<typeof createAdapter> {
  const make = createAdapter(quietPublisher(pub), sub, { key });
  // Socket.IO calls this with `new`: a function, not an arrow.
  return function adapterFor(nsp: unknown) {
    const adapter = make(nsp);
    const serverCount = adapter.serverCount.bind(adapter);
    adapter.serverCount = () => serverCount().catch(() => 1);
    return adapter;
  };
}
