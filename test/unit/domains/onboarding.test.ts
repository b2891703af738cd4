// The onboarding process manager's reaction: a new member starts exactly one onboarding workflow,
// the same one however often the event is delivered.
import { describe, expect, it } from 'vitest';
import {
  onboarding as typed,
  specFor,
  workflow,
  type Domain,
  type EventEnvelope,
  type ProcessManagerDefinition,
} from '../../../appliance/index.js';

// The manager and the workflow domain as the runner holds them: any event in, any command out.
const onboarding: ProcessManagerDefinition = typed;
const workflows: Domain = workflow;

const memberAdded = (id: string, seq = 2): EventEnvelope => ({
  v: 1,
  id,
  domain: 'organization',
  aggregate: 'Organization',
  aggregateId: 'o1',
  seq,
  type: 'MemberAdded',
  typeVersion: 1,
  at: '2026-01-01T00:00:00Z',
  correlationId: 'c1',
  causationId: 'k1',
  actor: 'a',
  payload: { organizationId: 'o1', personId: 'p1', role: 'member' },
  prev: null,
});

describe('onboarding', () => {
  it('reacts to an organization gaining a member', () => {
    expect(onboarding.name).toBe('onboarding');
    expect(onboarding.reactsTo).toEqual([{ domain: 'organization', type: 'MemberAdded' }]);
  });

  it('given MemberAdded, starts an onboarding workflow about the person', () => {
    const [command, ...rest] = onboarding.react(memberAdded('0190-a'));
    expect(rest).toEqual([]);
    expect(command).toMatchObject({
      domain: 'workflow',
      type: 'StartWorkflow',
      payload: {
        definition: 'onboarding',
        subject: { domain: 'person', aggregateId: 'p1' },
        steps: ['account', 'equipment', 'introduction'],
      },
    });
    expect(command!.aggregateId).toBe(command!.payload.workflowId);
    expect(command!.aggregateId).toMatch(/^[A-Za-z0-9_=-]{1,64}$/);
  });

  it('given the same event delivered again, issues the same command', () => {
    expect(onboarding.react(memberAdded('0190-a'))).toEqual(onboarding.react(memberAdded('0190-a')));
  });

  it('given a member added again after removal (another event), starts another workflow', () => {
    const first = onboarding.react(memberAdded('0190-a', 2))[0]!;
    const again = onboarding.react(memberAdded('0190-b', 4))[0]!;
    expect(again.aggregateId).not.toBe(first.aggregateId);
  });

  it('given any other event, issues nothing', () => {
    expect(onboarding.react({ ...memberAdded('0190-a'), type: 'MemberRemoved' })).toEqual([]);
    expect(onboarding.react({ ...memberAdded('0190-a'), domain: 'person', type: 'PersonRegistered' })).toEqual([]);
  });

  it('issues a command the workflow domain accepts', () => {
    const [command] = onboarding.react(memberAdded('0190-a'));
    specFor(workflows)
      .given([])
      .when(command!.type, command!.payload)
      .then([{ type: 'WorkflowStarted', payload: command!.payload }]);
  });
});
