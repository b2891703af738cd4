// What earlier verifications saw (verified.json): kept at the highest values, private to the
// state dir's owner, and a file that is not what verify wrote is an input error, not a crash.
import { statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareWithWatermark, readWatermarks, watermarksFile, writeWatermarks } from '../../appliance/index.js';
import { tempDir } from '../support/temp-dir.js';

describe('verification watermarks', () => {
  it('given none yet, reads empty; written, keeps the highest values seen, mode 0600', () => {
    const dir = tempDir('watermarks');
    try {
      expect(Object.keys(readWatermarks(dir.path))).toEqual([]);
      writeWatermarks(dir.path, readWatermarks(dir.path), { person: { lastSeq: 30, seals: 2 } });
      writeWatermarks(dir.path, readWatermarks(dir.path), {
        person: { lastSeq: 12, seals: 3 },
        workflow: { lastSeq: 0, seals: 0 },
      });
      expect({ ...readWatermarks(dir.path) }).toEqual({
        person: { lastSeq: 30, seals: 3 },
        workflow: { lastSeq: 0, seals: 0 },
      });
      expect(statSync(watermarksFile(dir.path)).mode & 0o777).toBe(0o600);
    } finally {
      dir.remove();
    }
  });

  it('given a file that is not JSON, refuses it as CIM-INVALID-INPUT naming the file', () => {
    const dir = tempDir('watermarks');
    try {
      writeFileSync(watermarksFile(dir.path), '{ not json');
      expect(() => readWatermarks(dir.path)).toThrow(
        expect.objectContaining({ code: 'CIM-INVALID-INPUT', message: expect.stringContaining('verified.json') }),
      );
    } finally {
      dir.remove();
    }
  });

  it('finds less than was seen, and nothing when as much or more is there', () => {
    const seen = { lastSeq: 30, seals: 2 };
    expect(compareWithWatermark('person', 'CIM_PERSON', seen, { lastSeq: 31, seals: 2 }, 'f')).toEqual([]);
    expect(compareWithWatermark('person', 'CIM_PERSON', undefined, { lastSeq: 0, seals: 0 }, 'f')).toEqual([]);
    expect(
      compareWithWatermark('person', 'CIM_PERSON', seen, { lastSeq: 2, seals: 1 }, 'f').map((f) => [
        f.kind,
        f.stream,
        f.expected,
        f.actual,
      ]),
    ).toEqual([
      ['events-removed', 'CIM_PERSON', 'last seq ≥ 30', 'last seq 2'],
      ['seals-removed', 'CIM_SEALS', '≥ 2 seals', '1 seals'],
    ]);
  });
});
