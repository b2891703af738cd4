// Where a scenario's replica comparison and checker per replica show: the terminal summary, the
// performance report's Markdown and HTML — each divergence named as the comparison names it, and a
// report from before there were replicas rendering as it did.
import { describe, expect, it } from 'vitest';
import type { ReplicaComparison } from '../../appliance/index.js';
import { renderHtml, renderMarkdown } from '../../reports/index.js';
import { renderScenarioResult } from '../../scenarios/index.js';
import type { ScenarioResult } from '../../scenarios/results.js';
import { benchResultsFixture, performanceReport } from '../fixtures/performance-report.js';

const replicas: ReplicaComparison = {
  streams: [
    {
      stream: 'CIM_PERSON',
      replicas: [
        { server: 'n1', stream: 'CIM_PERSON', leader: true, messages: 120, firstSeq: 1, lastSeq: 120 },
        { server: 'n2', stream: 'CIM_PERSON', leader: false, messages: 116, firstSeq: 1, lastSeq: 120 },
      ],
    },
  ],
  divergences: [
    {
      stream: 'CIM_PERSON',
      replica: 'n2',
      reference: 'n1',
      kind: 'missing',
      sequences: [
        { from: 57, to: 60 },
        { from: 63, to: 63 },
      ],
      agreesWithSeals: 'reference',
    },
  ],
  unreadable: [{ server: 'n3', stream: 'CIM_PERSON', reason: 'n3 is paused (SIGSTOP)' }],
};
const perReplica = [
  { server: 'n1', lost: 0, unexpected: 0, duplicates: 0 },
  { server: 'n2', lost: 5, unexpected: 0, duplicates: 0 },
];
const LINE = 'replica n2 of CIM_PERSON is missing seq 57–60, 63 (against n1; the seals agree with n1)';

function withReplicas() {
  const results = benchResultsFixture();
  const scenario = results.scenarios[0]!;
  scenario.replicas = replicas;
  (scenario.checker as Record<string, unknown>).perReplica = perReplica;
  return results;
}

describe('the replica comparison in the renderings', () => {
  it('is in the terminal summary: the checker per replica, each divergence and what was unreadable', () => {
    const scenario = withReplicas().scenarios[0] as unknown as ScenarioResult;
    const text = renderScenarioResult(scenario);
    expect(text).toContain(
      'checker per replica: n1 lost 0, unexpected 0, duplicates 0; n2 lost 5, unexpected 0, duplicates 0',
    );
    expect(text).toContain(
      'replicas: 1 stream(s), up to 2 replica(s) each, every copy read from its own server — 1 divergence(s)',
    );
    expect(text).toContain(`    ${LINE}`);
    expect(text).toContain('    unreadable: n3 CIM_PERSON: n3 is paused (SIGSTOP)');
  });

  it('is in the Markdown and the HTML of the performance report', async () => {
    const named = await performanceReport({ results: withReplicas() });
    const md = renderMarkdown(named);
    expect(md).toContain('**Checker per replica**: n1 lost 0, unexpected 0, duplicates 0; n2 lost 5');
    expect(md).toContain('**Replicas**: 1 stream(s), up to 2 replica(s) each');
    expect(md).toContain(`- ${LINE.replace('_', '\\_')}`);
    const html = renderHtml(named);
    expect(html).toContain('Checker per replica: each replica&#39;s own copy read back');
    expect(html).toContain(`<li>${LINE}</li>`);
    expect(html).toContain('<li>unreadable: n3 CIM_PERSON: n3 is paused (SIGSTOP)</li>');
  });

  it('is absent from a report made before replicas were compared', async () => {
    const named = await performanceReport({ results: benchResultsFixture() });
    expect(renderMarkdown(named)).not.toContain('**Replicas**');
    expect(renderHtml(named)).not.toContain('Checker per replica');
  });
});
