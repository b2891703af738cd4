// Failed authentications counted per client address in fixed windows: a client that keeps
// presenting bad keys is refused (429) before its next key is hashed, so guessing secrets, or
// burning the server's scrypt time with known key ids and wrong secrets, is bounded.
export class AuthFailures {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): number {
    const entry = this.windows.get(address);
    if (!entry) return 0;
    const now = this.now();
    if (entry.resetAt <= now) {
      this.windows.delete(address);
      return 0;
    }
    return entry.count >= this.max ? Math.ceil((entry.resetAt - now) / 1000) : 0;
  }

  record(address: string): void {
    const now = this.now();
    const entry = this.windows.get(address);
    if (entry && entry.resetAt > now) {
      entry.count++;
      return;
    }
    // Bounded: under a flood of addresses the oldest windows are dropped first.
    if (this.windows.size >= 10_000) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(address, { count: 1, resetAt: now + this.windowMs });
  }
}
