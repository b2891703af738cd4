// The reference domains the appliance runs and measures: the public surface of appliance/domains.
export { person, type PersonState } from './person.js';
export { organization, type MemberRole, type OrganizationState } from './organization.js';
export { workflow, type WorkflowState } from './workflow.js';
export { onboarding, onboardingWorkflowId, ONBOARDING_STEPS } from './onboarding.js';

import type { Domain } from '../decider/index.js';
import { organization } from './organization.js';
import { person } from './person.js';
import { workflow } from './workflow.js';

/** The domains the appliance runs out of the box, in dependency order (organization needs person). */
export const referenceDomains: readonly Domain<unknown>[] = [person, organization, workflow];
