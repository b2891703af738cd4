// Given/when/then specs of the workflow domain: every command, its rejections, and its read model.
import { describe, expect, it } from 'vitest';
import { specFor, workflow, type Domain, type EventOf } from '../../../appliance/index.js';

type WorkflowEvent = EventOf<typeof workflow.events>;

const spec = specFor(workflow);
const start = {
  workflowId: 'w1',
  definition: 'onboarding',
  subject: { domain: 'person', aggregateId: 'p1' },
  steps: ['account', 'equipment', 'introduction'],
};
const started: WorkflowEvent = { type: 'WorkflowStarted', payload: start };
const stepDone = (step: string, index: number, next: string | null): WorkflowEvent => ({
  type: 'WorkflowStepCompleted',
  payload: { workflowId: 'w1', step, index, next },
});
const allDone = [
  started,
  stepDone('account', 0, 'equipment'),
  stepDone('equipment', 1, 'introduction'),
  stepDone('introduction', 2, null),
];
const completed: WorkflowEvent = { type: 'WorkflowCompleted', payload: { workflowId: 'w1' } };
const failed: WorkflowEvent = { type: 'WorkflowFailed', payload: { workflowId: 'w1', reason: 'left before day one' } };

describe('StartWorkflow', () => {
  it('given no workflow, starts one', () => {
    spec.given([]).when('StartWorkflow', start).then([started]);
  });

  it('given the workflow has started, the same start again changes nothing (a redelivered trigger)', () => {
    spec.given([started]).when('StartWorkflow', start).then([]);
  });

  it('given the workflow has started, rejects a different start under the same id', () => {
    spec
      .given([started])
      .when('StartWorkflow', { ...start, steps: ['other'] })
      .thenRejects('CIM-REJECTED', 'workflow w1 has already been started');
    spec
      .given([started])
      .when('StartWorkflow', { ...start, subject: { domain: 'person', aggregateId: 'someone-else' } })
      .thenRejects('CIM-REJECTED', 'workflow w1 has already been started');
  });

  it('rejects no steps, more than 20, or a repeated step at the edge', () => {
    spec
      .given([])
      .when('StartWorkflow', { ...start, steps: [] })
      .thenRejects('CIM-INVALID-INPUT', 'StartWorkflow: steps: Too small: expected array to have >=1 items');
    spec
      .given([])
      .when('StartWorkflow', { ...start, steps: Array.from({ length: 21 }, (_, i) => `s${i}`) })
      .thenRejects('CIM-INVALID-INPUT', 'StartWorkflow: steps: Too big: expected array to have <=20 items');
    spec
      .given([])
      .when('StartWorkflow', { ...start, steps: ['a', 'b', 'a'] })
      .thenRejects('CIM-INVALID-INPUT', 'StartWorkflow: steps: step names must be unique');
  });

  it('rejects a subject whose id cannot close a subject at the edge', () => {
    spec
      .given([])
      .when('StartWorkflow', { ...start, subject: { domain: 'person', aggregateId: 'p 1' } })
      .thenRejects(
        'CIM-INVALID-INPUT',
        'StartWorkflow: subject.aggregateId: expected 1–64 letters, digits, "_", "-" or "="',
      );
  });
});

describe('AdvanceWorkflow', () => {
  it('given a started workflow, completes the first step and names the next', () => {
    spec
      .given([started])
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'account' })
      .then([stepDone('account', 0, 'equipment')]);
  });

  it('given all but the last step done, completes the last with nothing next', () => {
    spec
      .given(allDone.slice(0, 3))
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'introduction' })
      .then([stepDone('introduction', 2, null)]);
  });

  it('given a step other than the next pending one, rejects it as out of order', () => {
    spec
      .given([started])
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'equipment' })
      .thenRejects('CIM-REJECTED', 'workflow w1: step out of order: "equipment" given, "account" is next');
  });

  it('given the step is already done, rejects it as out of order', () => {
    spec
      .given(allDone.slice(0, 2))
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'account' })
      .thenRejects('CIM-REJECTED', 'workflow w1: step out of order: "account" given, "equipment" is next');
  });

  it('given all steps done, rejects any further step', () => {
    spec
      .given(allDone)
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'introduction' })
      .thenRejects('CIM-REJECTED', 'workflow w1: step out of order: all 3 steps are done; complete the workflow');
  });

  it('given no such workflow, rejects', () => {
    spec
      .given([])
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'account' })
      .thenRejects('CIM-REJECTED', 'workflow w1 has not been started');
  });
});

describe('CompleteWorkflow', () => {
  it('given all steps done, completes the workflow', () => {
    spec.given(allDone).when('CompleteWorkflow', { workflowId: 'w1' }).then([completed]);
  });

  it('given a step still pending, rejects and names it', () => {
    spec
      .given(allDone.slice(0, 2))
      .when('CompleteWorkflow', { workflowId: 'w1' })
      .thenRejects('CIM-REJECTED', 'workflow w1 has 1 of 3 steps done; advance "equipment" first');
  });

  it('given no such workflow, rejects', () => {
    spec
      .given([])
      .when('CompleteWorkflow', { workflowId: 'w1' })
      .thenRejects('CIM-REJECTED', 'workflow w1 has not been started');
  });
});

describe('FailWorkflow', () => {
  it('given a running workflow, fails it with the reason', () => {
    spec.given([started]).when('FailWorkflow', { workflowId: 'w1', reason: 'left before day one' }).then([failed]);
  });

  it('rejects an empty reason at the edge', () => {
    spec
      .given([started])
      .when('FailWorkflow', { workflowId: 'w1', reason: '' })
      .thenRejects('CIM-INVALID-INPUT', 'FailWorkflow: reason: Too small: expected string to have >=1 characters');
  });
});

describe('a finished workflow', () => {
  const ended = (status: string) => `workflow w1 is ${status}; it takes no further commands`;
  // Every command in one table, so the spec runs on the domain as the runtime holds it: any name, any payload.
  const runtime: Domain = workflow;
  const commands: [string, Record<string, unknown>, (status: string) => string][] = [
    ['StartWorkflow', { ...start, definition: 'offboarding' }, () => 'workflow w1 has already been started'],
    ['AdvanceWorkflow', { workflowId: 'w1', step: 'account' }, ended],
    ['CompleteWorkflow', { workflowId: 'w1' }, ended],
    ['FailWorkflow', { workflowId: 'w1', reason: 'too late' }, ended],
  ];

  it('given it completed, rejects every command', () => {
    for (const [type, payload, message] of commands)
      specFor(runtime)
        .given([...allDone, completed])
        .when(type, payload)
        .thenRejects('CIM-REJECTED', message('completed'));
  });

  it('given it failed, rejects every command', () => {
    for (const [type, payload, message] of commands)
      specFor(runtime).given([started, failed]).when(type, payload).thenRejects('CIM-REJECTED', message('failed'));
  });

  it('given it finished, the same start redelivered changes nothing and starts nothing new', () => {
    spec
      .given([...allDone, completed])
      .when('StartWorkflow', start)
      .then([]);
    spec.given([started, failed]).when('StartWorkflow', start).then([]);
  });
});

describe('workflow_status projection', () => {
  const projection = workflow.definition.projections![0]!;
  const at = '2026-01-01T00:00:00Z';
  const key = { workflow_id: 'w1' };
  const envelope = (type: string, payload: Record<string, unknown>) => ({
    v: 1,
    id: 'e',
    domain: 'workflow',
    aggregate: 'Workflow',
    aggregateId: 'w1',
    seq: 1,
    type,
    typeVersion: 1,
    at,
    correlationId: 'c',
    causationId: 'c',
    actor: 'a',
    payload,
    prev: null,
  });

  it('maps a start to a running row at the first step', () => {
    expect(projection.apply(envelope('WorkflowStarted', start))).toEqual([
      {
        op: 'upsert',
        table: 'workflow_status',
        key,
        values: {
          definition: 'onboarding',
          subject_domain: 'person',
          subject_id: 'p1',
          status: 'running',
          current_step: 'account',
          steps_done: 0,
          updated_at: at,
        },
      },
    ]);
  });

  it('maps a completed step to the next step and the count done', () => {
    expect(projection.apply(envelope('WorkflowStepCompleted', stepDone('account', 0, 'equipment').payload))).toEqual([
      {
        op: 'upsert',
        table: 'workflow_status',
        key,
        values: { current_step: 'equipment', steps_done: 1, updated_at: at },
      },
    ]);
  });

  it('maps completion and failure to the status', () => {
    expect(projection.apply(envelope('WorkflowCompleted', completed.payload))).toEqual([
      {
        op: 'upsert',
        table: 'workflow_status',
        key,
        values: { status: 'completed', current_step: null, updated_at: at },
      },
    ]);
    expect(projection.apply(envelope('WorkflowFailed', failed.payload))).toEqual([
      { op: 'upsert', table: 'workflow_status', key, values: { status: 'failed', updated_at: at } },
    ]);
    expect(projection.apply(envelope('SomethingElse', { workflowId: 'w1' }))).toEqual([]);
  });

  it('serves one workflow and counts by status', () => {
    expect(projection.queries!.GetWorkflow!.one).toBe(true);
    expect(projection.queries!.CountByStatus!.sql).toMatch(/GROUP BY status/);
  });
});

describe('step names and reasons', () => {
  const rule = 'text may not hold control characters, bidi controls or lone surrogates';

  it('refuses a step or a reason with a control character, a bidi control or a lone surrogate at the edge', () => {
    spec
      .given([])
      .when('StartWorkflow', { ...start, steps: ['account', 'equip\nment'] })
      .thenRejects(
        'CIM-INVALID-INPUT',
        `StartWorkflow: steps.1: contains \\u000a (a control character) at index 5; ${rule}`,
      );
    spec
      .given([started])
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'account\u2066' })
      .thenRejects('CIM-INVALID-INPUT', `AdvanceWorkflow: step: contains \\u2066 (a bidi control) at index 7; ${rule}`);
    spec
      .given([started])
      .when('FailWorkflow', { workflowId: 'w1', reason: 'left \udc00' })
      .thenRejects(
        'CIM-INVALID-INPUT',
        `FailWorkflow: reason: contains \\udc00 (a lone surrogate) at index 5; ${rule}`,
      );
  });

  it('given a start whose step holds a newline (stored before the rule), a start with other steps is no repeat', () => {
    const legacy: WorkflowEvent = { type: 'WorkflowStarted', payload: { ...start, steps: ['account\nequipment'] } };
    spec
      .given([legacy])
      .when('StartWorkflow', { ...start, steps: ['account', 'equipment'] })
      .thenRejects('CIM-REJECTED', 'workflow w1 has already been started');
  });

  it('runs steps named after properties of Object.prototype like any other', () => {
    const steps = ['constructor', 'toString', '__proto__'];
    const begun: WorkflowEvent = { type: 'WorkflowStarted', payload: { ...start, steps } };
    spec
      .given([])
      .when('StartWorkflow', { ...start, steps })
      .then([begun]);
    spec
      .given([begun, stepDone('constructor', 0, 'toString')])
      .when('AdvanceWorkflow', { workflowId: 'w1', step: 'toString' })
      .then([stepDone('toString', 1, '__proto__')]);
  });
});
