// The workflow domain: an instance of a named definition about one aggregate (its subject), whose
// steps complete strictly in order, and which ends completed or failed.
import { z } from 'zod';
import {
  aggregateIdSchema,
  defineCommand,
  defineDomain,
  rejected,
  safeText,
  type EnvelopeOf,
  type ProjectionDefinition,
} from '../decider/index.js';

export interface WorkflowState {
  status: 'none' | 'running' | 'completed' | 'failed';
  definition?: string;
  /** What the workflow is about; with definition and steps, what a repeated start must match. */
  subject?: { domain: string; aggregateId: string };
  steps: readonly string[];
  /** How many steps are done; `steps[done]` is the next pending one. */
  done: number;
}

const aggregateId = aggregateIdSchema;
const workflowId = aggregateId;
const definition = safeText().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lower-case name like onboarding');
const subject = z.object({
  domain: safeText().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a domain name like person'),
  aggregateId,
});
const step = safeText().trim().min(1).max(100);
const reason = safeText().trim().min(1).max(500);
const steps = z
  .array(step)
  .min(1)
  .max(20)
  .refine((list) => new Set(list).size === list.length, 'step names must be unique');

const events = {
  WorkflowStarted: z.object({ workflowId, definition, subject, steps }),
  // `next` is the step now pending (null once all are done): the read model maps one event at a
  // time and cannot look the step list up, so the event carries what it shows.
  WorkflowStepCompleted: z.object({ workflowId, step, index: z.number().int().min(0), next: step.nullable() }),
  WorkflowCompleted: z.object({ workflowId }),
  WorkflowFailed: z.object({ workflowId, reason }),
};

const byWorkflow = (p: { workflowId: string }) => p.workflowId;
const commands = {
  StartWorkflow: defineCommand({
    schema: z.object({ workflowId, definition, subject, steps }),
    aggregateId: byWorkflow,
  }),
  AdvanceWorkflow: defineCommand({ schema: z.object({ workflowId, step }), aggregateId: byWorkflow }),
  CompleteWorkflow: defineCommand({ schema: z.object({ workflowId }), aggregateId: byWorkflow }),
  FailWorkflow: defineCommand({ schema: z.object({ workflowId, reason }), aggregateId: byWorkflow }),
};

function mustBeRunning(state: WorkflowState, workflowId: string): void {
  if (state.status === 'none') throw rejected(`workflow ${workflowId} has not been started`);
  if (state.status !== 'running')
    throw rejected(`workflow ${workflowId} is ${state.status}; it takes no further commands`);
}

const status: ProjectionDefinition<EnvelopeOf<typeof events>> = {
  name: 'workflow_status',
  domains: ['workflow'],
  tables: [
    'CREATE TABLE IF NOT EXISTS workflow_status (workflow_id TEXT PRIMARY KEY, definition TEXT NOT NULL, subject_domain TEXT NOT NULL, subject_id TEXT NOT NULL, status TEXT NOT NULL, current_step TEXT, steps_done INTEGER NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID',
  ],
  apply(e) {
    const key = { workflow_id: e.payload.workflowId };
    switch (e.type) {
      case 'WorkflowStarted': {
        const p = e.payload;
        // The schema asks for at least one step, so there is a first one.
        const values = {
          definition: p.definition,
          subject_domain: p.subject.domain,
          subject_id: p.subject.aggregateId,
          status: 'running',
          current_step: p.steps[0] ?? null,
          steps_done: 0,
          updated_at: e.at,
        };
        return [{ op: 'upsert', table: 'workflow_status', key, values }];
      }
      case 'WorkflowStepCompleted': {
        return [
          {
            op: 'upsert',
            table: 'workflow_status',
            key,
            values: { current_step: e.payload.next, steps_done: e.payload.index + 1, updated_at: e.at },
          },
        ];
      }
      case 'WorkflowCompleted':
        return [
          {
            op: 'upsert',
            table: 'workflow_status',
            key,
            values: { status: 'completed', current_step: null, updated_at: e.at },
          },
        ];
      case 'WorkflowFailed':
        return [{ op: 'upsert', table: 'workflow_status', key, values: { status: 'failed', updated_at: e.at } }];
      default:
        return [];
    }
  },
  queries: {
    GetWorkflow: {
      sql: 'SELECT workflow_id AS workflowId, definition, subject_domain AS subjectDomain, subject_id AS subjectId, status, current_step AS currentStep, steps_done AS stepsDone, updated_at AS updatedAt FROM workflow_status WHERE workflow_id = :workflowId',
      schema: z.object({ workflowId }),
      one: true,
    },
    CountByStatus: {
      sql: 'SELECT status, count(*) AS workflows FROM workflow_status GROUP BY status ORDER BY status',
      schema: z.object({}),
    },
  },
};

export const workflow = defineDomain({
  name: 'workflow',
  aggregate: 'Workflow',
  commands,
  events,
  initialState: (): WorkflowState => ({ status: 'none', steps: [], done: 0 }),
  decide(command, state) {
    switch (command.type) {
      case 'StartWorkflow': {
        const p = command.payload;
        if (state.status !== 'none') {
          // The same start again (a process manager redelivered its trigger) changes nothing;
          // a different start under the same id is a mistake.
          const same =
            state.definition === p.definition &&
            state.subject?.domain === p.subject.domain &&
            state.subject.aggregateId === p.subject.aggregateId &&
            state.steps.length === p.steps.length &&
            state.steps.every((step, i) => step === p.steps[i]);
          if (same) return [];
          throw rejected(`workflow ${p.workflowId} has already been started`);
        }
        return [{ type: 'WorkflowStarted', payload: p }];
      }
      case 'AdvanceWorkflow': {
        const p = command.payload;
        mustBeRunning(state, p.workflowId);
        const pending = state.steps[state.done];
        if (pending === undefined)
          throw rejected(
            `workflow ${p.workflowId}: step out of order: all ${state.steps.length} steps are done; complete the workflow`,
          );
        if (p.step !== pending)
          throw rejected(`workflow ${p.workflowId}: step out of order: "${p.step}" given, "${pending}" is next`);
        return [
          {
            type: 'WorkflowStepCompleted',
            payload: {
              workflowId: p.workflowId,
              step: p.step,
              index: state.done,
              next: state.steps[state.done + 1] ?? null,
            },
          },
        ];
      }
      case 'CompleteWorkflow': {
        const p = command.payload;
        mustBeRunning(state, p.workflowId);
        if (state.done < state.steps.length)
          throw rejected(
            `workflow ${p.workflowId} has ${state.done} of ${state.steps.length} steps done; advance "${state.steps[state.done]}" first`,
          );
        return [{ type: 'WorkflowCompleted', payload: p }];
      }
      case 'FailWorkflow': {
        const p = command.payload;
        mustBeRunning(state, p.workflowId);
        return [{ type: 'WorkflowFailed', payload: p }];
      }
    }
  },
  evolve(state, e): WorkflowState {
    switch (e.type) {
      case 'WorkflowStarted': {
        const p = e.payload;
        return { status: 'running', definition: p.definition, subject: p.subject, steps: p.steps, done: 0 };
      }
      case 'WorkflowStepCompleted':
        return { ...state, done: e.payload.index + 1 };
      case 'WorkflowCompleted':
        return { ...state, status: 'completed' };
      case 'WorkflowFailed':
        return { ...state, status: 'failed' };
      default:
        return state;
    }
  },
  projections: [status],
});
