// Failed authentications per client address: refused once the window's budget is spent, free
// again when the window ends, one address never blocking another.
import { describe, expect, it } from 'vitest';
import { AuthFailures } from '../../appliance/api/auth-failures.js';

describe('AuthFailures', () => {
  it('given max failures in a window, the address waits out the rest of the window; others do not', () => {
    let now = 10_000;
    const failures = new AuthFailures(3, 60_000, () => now);
    for (let i = 0; i < 2; i++) failures.record('10.0.0.1');
    expect(failures.retryAfter('10.0.0.1')).toBe(0);
    failures.record('10.0.0.1');
    expect(failures.retryAfter('10.0.0.1')).toBe(60);
    expect(failures.retryAfter('10.0.0.2')).toBe(0);
    now += 59_500;
    expect(failures.retryAfter('10.0.0.1')).toBe(1);
    now += 500;
    expect(failures.retryAfter('10.0.0.1')).toBe(0);
    failures.record('10.0.0.1');
    expect(failures.retryAfter('10.0.0.1')).toBe(0);
  });
});
