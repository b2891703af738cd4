// What `cim comply` prints and parses, without a cluster: its duration flag, and the table of
// checks with every finding above info listed by id under it.
import { describe, expect, it } from 'vitest';
import { parseAge, renderTable } from '../../cli/comply.js';
import { CimError } from '../../appliance/index.js';

describe('--max-unsealed-age', () => {
  it('takes seconds, minutes, hours and days, and refuses anything else or under a second', () => {
    expect(parseAge('90s')).toBe(90_000);
    expect(parseAge('30m')).toBe(1_800_000);
    expect(parseAge('1h')).toBe(3_600_000);
    expect(parseAge('2d')).toBe(172_800_000);
    for (const bad of ['0s', '1', 'h', '1w', '-1h', '1.5h']) expect(() => parseAge(bad)).toThrow(CimError);
  });
});

describe('the table', () => {
  it('counts findings by severity per check and lists those above info, then the verdict', () => {
    const text = renderTable([
      { check: 'access', findings: [], examined: { natsProbes: 10 } },
      {
        check: 'durability',
        examined: { servers: 3, streams: 2 },
        findings: [
          {
            id: 'durability:sync-interval:n1',
            check: 'durability',
            severity: 'high',
            message: 'syncs late',
            evidence: {},
          },
          { id: 'durability:known-bug:x:n1', check: 'durability', severity: 'info', message: 'maybe', evidence: {} },
        ],
      },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+CRITICAL\s+HIGH\s+MEDIUM\s+LOW\s+INFO\s+EXAMINED$/);
    expect(lines[1]).toMatch(/^access\s+0\s+0\s+0\s+0\s+0\s+10 natsProbes$/);
    expect(lines[2]).toMatch(/^durability\s+0\s+1\s+0\s+0\s+1\s+3 servers, 2 streams$/);
    expect(text).toMatch(/high\s+durability:sync-interval:n1\n\s+syncs late/);
    expect(text).not.toMatch(/known-bug/);
    expect(text).toMatch(/comply FAILED: critical or high findings$/);
  });
});
