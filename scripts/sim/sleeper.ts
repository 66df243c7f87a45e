// A sleep that a stop can cut short: the civilians' Poisson schedules wait on one, and
// stopping them must not wait out the gap to the next report.
export class Sleeper {
  private wakeUp: (() => void) | null = null;

  /** Resolves at `at` (performance.now() time), or at once when woken. */
  until(at: number): Promise<void> {
    const wait = at - performance.now();
    if (wait <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.wakeUp = null; resolve(); }, wait);
      this.wakeUp = () => { clearTimeout(timer); this.wakeUp = null; resolve(); };
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}
