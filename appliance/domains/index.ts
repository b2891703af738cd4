// The reference domains the appliance runs and measures: the public surface of appliance/domains.
export { person, type PersonState } from './person.js';
export { organization, type MemberRole, type OrganizationState } from './organization.js';
export { workflow, type WorkflowState } from './workflow.js';
export { onboarding, onboardingWorkflowId, ONBOARDING_STEPS } from './onboarding.js';

export { findProjection, referenceDomains, servedDomains } from './registry.js';
