// The onboarding process manager's pure part: when an organization gains a member, start an
// onboarding workflow about that person (DESIGN.md §5, the cross-domain flow).
import { createHash } from 'node:crypto';
import type { EventEnvelope, Payload } from '../eventstore/index.js';

/** A command a process manager asks the runner to send, addressed like a command request. */
export interface ProcessCommand<P extends Payload = Payload> {
  domain: string;
  /** The command's name, e.g. `StartWorkflow`. */
  type: string;
  aggregateId: string;
  payload: P;
}

/**
 * A process manager: the events it reacts to and, per event, the commands it issues. `react` is
 * pure and deterministic — a redelivered or replayed event must yield the same commands, since
 * that (and the target aggregate rejecting a second start) is what makes the flow exactly-once
 * over at-least-once delivery.
 *
 * The runner, not `react`, stamps each command's metadata: `correlationId` carried from the event,
 * `causationId` = the event's `id`, so the whole flow can be traced back to the first command.
 */
export interface ProcessManagerDefinition {
  /** Unique across the appliance; names its durable consumer. */
  name: string;
  /** The (domain, event type) pairs it consumes; the runner filters on them before `react`. */
  reactsTo: readonly { domain: string; type: string }[];
  react(event: EventEnvelope): ProcessCommand[];
}

export const ONBOARDING_STEPS = ['account', 'equipment', 'introduction'] as const;

/**
 * The onboarding workflow's id for one MemberAdded event. Derived from the event's id, which the
 * store fixed at append, so a redelivery or a restarted manager names the same workflow, while a
 * member removed and added again (a new event) gets a new one. 40 hex chars keep it well inside
 * the aggregate id charset and length.
 */
export function onboardingWorkflowId(organizationId: string, personId: string, eventId: string): string {
  return `onb-${createHash('sha256').update(`${organizationId}:${personId}:${eventId}`).digest('hex').slice(0, 40)}`;
}

export const onboarding: ProcessManagerDefinition = {
  name: 'onboarding',
  reactsTo: [{ domain: 'organization', type: 'MemberAdded' }],
  react(event) {
    if (event.domain !== 'organization' || event.type !== 'MemberAdded') return [];
    const { organizationId, personId } = event.payload as { organizationId: string; personId: string };
    const workflowId = onboardingWorkflowId(organizationId, personId, event.id);
    return [
      {
        domain: 'workflow',
        type: 'StartWorkflow',
        aggregateId: workflowId,
        payload: { workflowId, definition: 'onboarding', subject: { domain: 'person', aggregateId: personId }, steps: [...ONBOARDING_STEPS] },
      },
    ];
  },
};
