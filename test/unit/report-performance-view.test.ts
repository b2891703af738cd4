import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPerformanceResults, type PerformanceResultsView } from '../../reports/render/performance-view.js';
import type { BenchResults } from '../../scenarios/results.js';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/bench-results-quick.json', import.meta.url), 'utf8'),
) as BenchResults;

// Type level: whatever the bench hands over is a view the renderers can read.
const _assignable: PerformanceResultsView = {} as BenchResults;
void _assignable;

describe('the performance results view', () => {
  it('given the bench results of a quick run, when read, then every scenario and phase is kept', () => {
    const view = readPerformanceResults(fixture);
    expect(view?.scenarios.map((s) => s.scenario)).toEqual(fixture.scenarios.map((s) => s.scenario));
    expect(view?.scenarios.map((s) => s.phases.length)).toEqual(fixture.scenarios.map((s) => s.phases.length));
    const load = view?.scenarios[0]?.phases.find((p) => p.type === 'load');
    expect(load?.type === 'load' && load.perSecond.length).toBeGreaterThan(0);
  });

  it('given results with fields of the wrong type, when read, then those fields are undefined and the rest is kept', () => {
    const damaged = structuredClone(fixture) as unknown as { scenarios: Record<string, unknown>[] };
    damaged.scenarios[0]!.seconds = 'soon';
    damaged.scenarios[0]!.checker = 7;
    (damaged.scenarios[0]!.phases as unknown[]).push({ type: 'teleport', name: 'x' }, null);
    const view = readPerformanceResults(damaged);
    expect(view?.scenarios[0]?.seconds).toBeUndefined();
    expect(view?.scenarios[0]?.checker).toBeUndefined();
    expect(view?.scenarios[0]?.phases.length).toBe(fixture.scenarios[0]!.phases.length);
    expect(view?.scenarios[1]?.checker?.lost).toBe(0);
  });

  it('given something that is not a results document, when read, then there is no view', () => {
    expect(readPerformanceResults(null)).toBeUndefined();
    expect(readPerformanceResults({ figures: [] })).toBeUndefined();
    expect(readPerformanceResults('results')).toBeUndefined();
  });
});
