// Hero position and status changes for dispatcher maps, batched: at most one `heroes`
// event per interval per process. Each process sends only the changes it saw (its own
// sockets' pings, the status changes it relayed), so nothing is multiplied by the
// number of processes.
import type { HeroMapEntry } from '../../shared/types.ts';
import { rooms, type DispatchNamespace } from './namespaces.ts';

export class HeroMapBatcher {
  private pending = new Map<string, HeroMapEntry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly dispatch: DispatchNamespace, private readonly intervalMs: number) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.intervalMs);
  }

  mark(entry: HeroMapEntry): void {
    const prior = this.pending.get(entry.id);
    this.pending.set(entry.id, prior ? { ...prior, ...entry } : entry);
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.dispatch.to(rooms.dispatchers).emit('heroes', batch);
  }

  stop(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }
}
