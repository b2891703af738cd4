// Generated commands for the reference domains: a weighted, seeded mix whose commands are valid
// for the state the run has built so far (a rename goes to a person who is registered, a member
// to an organization that exists, a step to the workflow that waits for it). The world below
// learns only from acknowledgements, and an aggregate with a command in flight is not picked
// again until it is answered, so a mix measures the services, not self-inflicted conflicts.
import { CimError } from '../appliance/index.js';
import type { Random } from './random.js';

export interface MixWeight {
  /** `<domain>.<Command>`. */
  command: string;
  weight: number;
}

/** A command to send: where, what, and which aggregate it is about. */
export interface GeneratedCommand {
  domain: string;
  command: string;
  aggregateId: string;
  payload: Record<string, unknown>;
}

const STEPS = ['draft', 'review', 'approve'] as const;
const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Niklaus'];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Wirth',
];

interface Workflow {
  id: string;
  done: number;
  ended: boolean;
}

/** What the run has been told exists: only acknowledged commands change it. Shared by a scenario's load phases. */
export class MixWorld {
  readonly people: string[] = [];
  readonly organizations: string[] = [];
  readonly members = new Map<string, Set<string>>();
  readonly workflows: Workflow[] = [];
  readonly workflowsById = new Map<string, Workflow>();
  readonly busy = new Set<string>();
  nextPerson = 0;
  nextOrganization = 0;
  nextWorkflow = 0;
}

type Generator = (mix: CommandMix) => GeneratedCommand | undefined;

/** How each known command is made; `undefined` means "not possible yet" and the mix falls back to a creation. */
const generators: Record<string, Generator> = {
  'person.RegisterPerson': (m) => {
    if (m.world.nextPerson >= m.aggregates) return undefined;
    const personId = m.newId('p', m.world.nextPerson++);
    return {
      domain: 'person',
      command: 'RegisterPerson',
      aggregateId: personId,
      payload: { personId, name: m.personName(), email: `${personId}@example.org` },
    };
  },
  'person.RenamePerson': (m) =>
    m.onFree(m.world.people, (personId) => ({
      domain: 'person',
      command: 'RenamePerson',
      aggregateId: personId,
      payload: { personId, name: m.personName() },
    })),
  'person.ChangePersonEmail': (m) =>
    m.onFree(m.world.people, (personId) => ({
      domain: 'person',
      command: 'ChangePersonEmail',
      aggregateId: personId,
      payload: { personId, email: `${personId}.${m.random.int(1, 1e6)}@example.org` },
    })),
  'organization.CreateOrganization': (m) => {
    if (m.world.nextOrganization >= m.aggregates) return undefined;
    const organizationId = m.newId('o', m.world.nextOrganization++);
    return {
      domain: 'organization',
      command: 'CreateOrganization',
      aggregateId: organizationId,
      payload: { organizationId, name: m.organizationName() },
    };
  },
  'organization.RenameOrganization': (m) =>
    m.onFree(m.world.organizations, (organizationId) => ({
      domain: 'organization',
      command: 'RenameOrganization',
      aggregateId: organizationId,
      payload: { organizationId, name: m.organizationName() },
    })),
  'organization.AddMember': (m) => {
    if (m.world.people.length === 0) return undefined;
    return m.onFree(m.world.organizations, (organizationId) => {
      const members = m.world.members.get(organizationId);
      const personId = m.random.pick(m.world.people);
      if (members?.has(personId)) return undefined;
      return {
        domain: 'organization',
        command: 'AddMember',
        aggregateId: organizationId,
        payload: { organizationId, personId, role: 'member' },
      };
    });
  },
  'organization.RemoveMember': (m) =>
    m.onFree(m.world.organizations, (organizationId) => {
      const members = [...(m.world.members.get(organizationId) ?? [])];
      if (members.length === 0) return undefined;
      return {
        domain: 'organization',
        command: 'RemoveMember',
        aggregateId: organizationId,
        payload: { organizationId, personId: m.random.pick(members) },
      };
    }),
  'workflow.StartWorkflow': (m) => {
    if (m.world.nextWorkflow >= m.aggregates) return undefined;
    const workflowId = m.newId('w', m.world.nextWorkflow++);
    const subject = m.world.people.length > 0 ? m.random.pick(m.world.people) : workflowId;
    return {
      domain: 'workflow',
      command: 'StartWorkflow',
      aggregateId: workflowId,
      payload: {
        workflowId,
        definition: 'review',
        subject: { domain: 'person', aggregateId: subject },
        steps: [...STEPS],
      },
    };
  },
  'workflow.AdvanceWorkflow': (m) =>
    m.onFreeWorkflow((w) =>
      w.done < STEPS.length
        ? {
            domain: 'workflow',
            command: 'AdvanceWorkflow',
            aggregateId: w.id,
            payload: { workflowId: w.id, step: STEPS[w.done]! },
          }
        : undefined,
    ),
  'workflow.CompleteWorkflow': (m) =>
    m.onFreeWorkflow((w) =>
      w.done === STEPS.length
        ? { domain: 'workflow', command: 'CompleteWorkflow', aggregateId: w.id, payload: { workflowId: w.id } }
        : undefined,
    ),
  'workflow.FailWorkflow': (m) =>
    m.onFreeWorkflow((w) => ({
      domain: 'workflow',
      command: 'FailWorkflow',
      aggregateId: w.id,
      payload: { workflowId: w.id, reason: 'cancelled by the load generator' },
    })),
};

/**
 * What to send instead when a command is not possible: the creation it needs, or, once a domain
 * has all the aggregates it may have, an update of one of them.
 */
const fallbacks: Record<string, string> = {
  'person.RegisterPerson': 'person.RenamePerson',
  'organization.CreateOrganization': 'organization.RenameOrganization',
  'workflow.StartWorkflow': 'workflow.AdvanceWorkflow',
  'person.RenamePerson': 'person.RegisterPerson',
  'person.ChangePersonEmail': 'person.RegisterPerson',
  'organization.RenameOrganization': 'organization.CreateOrganization',
  'organization.AddMember': 'organization.CreateOrganization',
  'organization.RemoveMember': 'organization.AddMember',
  'workflow.AdvanceWorkflow': 'workflow.StartWorkflow',
  'workflow.CompleteWorkflow': 'workflow.AdvanceWorkflow',
  'workflow.FailWorkflow': 'workflow.StartWorkflow',
};

/** The commands a mix can generate. */
export const GENERATED_COMMANDS: readonly string[] = Object.keys(generators);

export class CommandMix {
  private readonly cumulative: number[] = [];
  private readonly commands: string[] = [];
  private readonly total: number;

  /**
   * @param runTag Makes this run's aggregate ids its own (`<tag>-p-000001`), so runs against the
   *   same streams (an attached cluster, a repeated scenario) never collide.
   * @param aggregates How many people, organizations and workflows the run creates at most.
   * @param world What earlier phases of the run created, to build on.
   */
  constructor(
    mix: readonly MixWeight[],
    readonly random: Random,
    private readonly runTag: string,
    readonly aggregates = 1_000,
    readonly world = new MixWorld(),
  ) {
    let sum = 0;
    for (const { command, weight } of mix) {
      if (!generators[command]) {
        throw new CimError('CIM-INVALID-INPUT', `the load generator cannot make ${command}`, {
          hint: `It makes: ${GENERATED_COMMANDS.join(', ')}.`,
        });
      }
      if (!(weight > 0)) throw new CimError('CIM-INVALID-INPUT', `${command}: weight must be > 0, got ${weight}`);
      sum += weight;
      this.cumulative.push(sum);
      this.commands.push(command);
    }
    if (this.commands.length === 0) throw new CimError('CIM-INVALID-INPUT', 'a command mix needs at least one command');
    this.total = sum;
  }

  /** The next command, marked busy until `settle` is called for it; undefined when every candidate is busy. */
  next(): GeneratedCommand | undefined {
    const roll = this.random.next() * this.total;
    let name = this.commands[this.cumulative.findIndex((c) => roll < c)] ?? this.commands[this.commands.length - 1]!;
    for (let hops = 0; hops < 5; hops++) {
      const generated = generators[name]!(this);
      if (generated) {
        this.world.busy.add(generated.aggregateId);
        return generated;
      }
      const fallback = fallbacks[name];
      if (!fallback) break;
      name = fallback;
    }
    return undefined;
  }

  /** Tells the world how a generated command ended; only an acknowledgement changes what exists. */
  settle(command: GeneratedCommand, acknowledged: boolean): void {
    this.world.busy.delete(command.aggregateId);
    if (!acknowledged) return;
    const p = command.payload;
    const w = this.world;
    switch (`${command.domain}.${command.command}`) {
      case 'person.RegisterPerson':
        w.people.push(p.personId as string);
        break;
      case 'organization.CreateOrganization':
        w.organizations.push(p.organizationId as string);
        w.members.set(p.organizationId as string, new Set());
        break;
      case 'organization.AddMember':
        w.members.get(p.organizationId as string)?.add(p.personId as string);
        break;
      case 'organization.RemoveMember':
        w.members.get(p.organizationId as string)?.delete(p.personId as string);
        break;
      case 'workflow.StartWorkflow': {
        const workflow = { id: p.workflowId as string, done: 0, ended: false };
        w.workflows.push(workflow);
        w.workflowsById.set(workflow.id, workflow);
        break;
      }
      case 'workflow.AdvanceWorkflow':
      case 'workflow.CompleteWorkflow':
      case 'workflow.FailWorkflow': {
        const workflow = w.workflowsById.get(p.workflowId as string);
        if (!workflow) break;
        if (command.command === 'AdvanceWorkflow') workflow.done++;
        else workflow.ended = true;
        break;
      }
    }
  }

  newId(kind: string, index: number): string {
    return `${this.runTag}-${kind}-${String(index).padStart(6, '0')}`;
  }

  personName(): string {
    return `${this.random.pick(FIRST_NAMES)} ${this.random.pick(LAST_NAMES)}`;
  }

  organizationName(): string {
    return `${this.random.pick(LAST_NAMES)} & ${this.random.pick(LAST_NAMES)} ${this.random.int(1, 999)}`;
  }

  /** Applies `make` to a random aggregate of `ids` that has no command in flight (a few tries). */
  onFree(ids: readonly string[], make: (id: string) => GeneratedCommand | undefined): GeneratedCommand | undefined {
    if (ids.length === 0) return undefined;
    for (let tries = 0; tries < 8; tries++) {
      const id = this.random.pick(ids);
      if (this.world.busy.has(id)) continue;
      const made = make(id);
      if (made) return made;
    }
    return undefined;
  }

  onFreeWorkflow(make: (w: Workflow) => GeneratedCommand | undefined): GeneratedCommand | undefined {
    const running = this.world.workflows;
    if (running.length === 0) return undefined;
    for (let tries = 0; tries < 8; tries++) {
      const w = this.random.pick(running);
      if (w.ended || this.world.busy.has(w.id)) continue;
      const made = make(w);
      if (made) return made;
    }
    return undefined;
  }
}
