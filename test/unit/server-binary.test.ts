import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersion } from '../../appliance/cluster/server-binary.js';

describe('nats-server versions', () => {
  it('parses the version nats-server prints', () => {
    expect(parseVersion('nats-server: v2.9.10')).toEqual([2, 9, 10]);
    expect(parseVersion('nats-server: v2.12.1-RC.2')).toEqual([2, 12, 1]);
    expect(parseVersion('no version here')).toBeUndefined();
  });

  it('compares numerically, not as text', () => {
    expect(compareVersions('2.9.10', '2.9.4')).toBeGreaterThan(0);
    expect(compareVersions('2.9.3', '2.9.4')).toBeLessThan(0);
    expect(compareVersions('2.10.0', '2.9.99')).toBeGreaterThan(0);
    expect(compareVersions('2.9.4', '2.9.4')).toBe(0);
  });
});
