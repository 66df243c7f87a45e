// The event loop's delay, window by window: how late a timer fires is how long any
// request, push or round waits for the thread. The report gate reads it to keep the
// thread from saturating (server/admission.ts): past a point, admitting more reports
// makes every emergency wait, the critical ones included.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export class LoopDelay {
  private readonly histogram: IntervalHistogram;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs: number, private readonly onWindow: (p99Ms: number) => void) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    this.histogram.enable();
    this.timer = setInterval(() => {
      const p99 = this.histogram.count > 0 ? this.histogram.percentile(99) / 1e6 : 0;
      this.histogram.reset();
      this.onWindow(p99);
    }, this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
