// Tokens that verified, remembered until they expire: a phone retrying its report in a
// burst, or a page opening several requests, sends the same token again and again, and
// an HMAC check through WebCrypto costs the main thread far more than a map lookup (it
// was 9% of the thread in a burst). Only the exact string that verified is remembered,
// never past its `exp`, and the map is bounded: the oldest entry goes first.
export class TokenCache<T extends { exp: number }> {
  private readonly entries = new Map<string, T>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): T | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.exp * 1000 <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return hit;
  }

  set(token: string, claims: T): void {
    if (this.capacity <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, claims);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
