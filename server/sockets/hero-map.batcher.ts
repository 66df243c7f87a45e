// Hero position and status changes for dispatcher maps, batched: at most one `heroes`
// event per interval per process. Each process sends only the changes it saw (its own
// sockets' pings, the status changes it relayed), so nothing is multiplied by the
// number of processes.
import type { HeroMapEntry, LatLng } from '../../shared/types.ts';
import { rooms, type DispatchNamespace } from './namespaces.ts';

type Live = Map<string, { location?: LatLng; lastSeenAt?: number }>;

/** Where live positions come from (the process's HeroPositions). */
export interface LivePositions { live(ids: string[]): Promise<Live> }

export class HeroMapBatcher {
  private pending = new Map<string, HeroMapEntry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dispatch: DispatchNamespace,
    private readonly intervalMs: number,
    /** Live positions for entries that only carry a status change (one Redis read per flush). */
    private readonly positions: LivePositions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
  }

  mark(entry: HeroMapEntry): void {
    const prior = this.pending.get(entry.id);
    this.pending.set(entry.id, prior ? { ...prior, ...entry } : entry);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const bare = batch.filter((e) => !e.location).map((e) => e.id);
    if (bare.length) {
      const known = await this.positions.live(bare).catch((): Live => new Map());
      for (const e of batch) if (!e.location) Object.assign(e, known.get(e.id));
    }
    this.dispatch.to(rooms.dispatchers).emit('heroes', batch);
  }

  stop(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }
}
