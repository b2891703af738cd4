// The onboarding process manager's pure part: when an organization gains a member, start an
// onboarding workflow about that person (the cross-domain flow: organization → workflow).
import { createHash } from 'node:crypto';
import type { EnvelopeOf, ProcessManagerDefinition } from '../decider/index.js';
import type { organization } from './organization.js';

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

/** Typed on the organization domain's events: `event.type` narrows the payload. */
export const onboarding: ProcessManagerDefinition<EnvelopeOf<typeof organization.events>> = {
  name: 'onboarding',
  reactsTo: [{ domain: 'organization', type: 'MemberAdded' }],
  react(event) {
    if (event.domain !== 'organization' || event.type !== 'MemberAdded') return [];
    const { organizationId, personId } = event.payload;
    const workflowId = onboardingWorkflowId(organizationId, personId, event.id);
    return [
      {
        domain: 'workflow',
        type: 'StartWorkflow',
        aggregateId: workflowId,
        payload: {
          workflowId,
          definition: 'onboarding',
          subject: { domain: 'person', aggregateId: personId },
          steps: [...ONBOARDING_STEPS],
        },
      },
    ];
  },
};
