// What users put into commands, on a real cluster. Text: a name or an actor holding a control
// character, a bidi override or a lone surrogate is refused at the edge with CIM-INVALID-INPUT
// naming the field and the character as an escape, and nothing is stored; text that is merely
// unusual (emoji, right-to-left script with its marks, combining accents) is stored exactly as
// sent. Keys: member ids that name Object.prototype's properties are members like any other, also
// in a state loaded from a snapshot in KV.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dagCbor from '@ipld/dag-cbor';
import {
  EventStore,
  isCimError,
  organization,
  person,
  provision,
  sendCommand,
  Signer,
  startCommandService,
  SnapshotStore,
  type CommandServiceHandle,
  type EventEnvelope,
  type OrganizationState,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
const services: CommandServiceHandle[] = [];
let store: EventStore;
let snapshotting: EventStore;

beforeAll(async () => {
  t = await startTestCluster('user-input', 3);
  await provision(t.nc, { domains: ['person', 'organization'], replicas: 3, duplicateWindowMs: 120_000 });
  store = await EventStore.open(t.nc);
  services.push(await startCommandService(t.nc, person, { store }));
  // No cache and a snapshot every two events replayed: organizations are loaded from snapshots.
  // Snapshots are written and used only with a key that signs them and a key that is trusted.
  const signer = Signer.ephemeral();
  snapshotting = await EventStore.open(t.nc, {
    snapshotEvery: 2,
    snapshotKeys: { signer, trusted: [signer.verifier()] },
  });
  services.push(await startCommandService(t.nc, organization, { store: snapshotting, cacheSize: 0 }));
});

afterAll(async () => {
  for (const s of services) await s.stop().catch(() => {});
  await t?.stop();
});

async function stored(personId: string): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for await (const e of store.readAggregate({ domain: 'person', aggregateId: personId })) events.push(e.envelope);
  return events;
}

/** The command's refusal, or what was stored when it was not refused. */
async function refusal(request: { actor: string; payload: Record<string, string> }): Promise<unknown> {
  try {
    await sendCommand(t.nc, 'person', 'RegisterPerson', request);
  } catch (error) {
    if (isCimError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return { stored: await stored(request.payload.personId!) };
}

const cases = [
  ['a NUL', '\u0000', '\\u0000', 'a control character'],
  ['a right-to-left override', '\u202e', '\\u202e', 'a bidi control'],
  ['a lone surrogate', '\ud800', '\\ud800', 'a lone surrogate'],
] as const;

describe('RegisterPerson over NATS', () => {
  it.each(cases)('refuses a name with %s and stores nothing', async (_, character, escape, kind) => {
    const personId = `name-${escape.slice(2)}`;
    const outcome = await refusal({
      actor: 'alice',
      payload: { personId, name: `Ada${character}Lovelace`, email: 'ada@example.org' },
    });
    expect(outcome).toEqual({
      code: 'CIM-INVALID-INPUT',
      message: `RegisterPerson: name: contains ${escape} (${kind}) at index 3; text may not hold control characters, bidi controls or lone surrogates`,
    });
    // The refusal names the character as an escape; it never carries the character itself.
    expect(String((outcome as { message?: unknown }).message)).not.toContain(character);
    expect(await stored(personId)).toEqual([]);
  });

  it.each(cases)('refuses an actor with %s and stores nothing', async (_, character, escape, kind) => {
    const personId = `actor-${escape.slice(2)}`;
    const outcome = await refusal({
      actor: `alice${character}`,
      payload: { personId, name: 'Ada Lovelace', email: 'ada@example.org' },
    });
    expect(outcome).toEqual({
      code: 'CIM-INVALID-INPUT',
      message: `RegisterPerson: actor: contains ${escape} (${kind}) at index 5; text may not hold control characters, bidi controls or lone surrogates`,
    });
    expect(await stored(personId)).toEqual([]);
  });

  it('stores unusual but well-formed text exactly as sent: emoji, right-to-left script and its marks, accents', async () => {
    const name = 'Ada 👩‍💻 \u05e2\u05d3\u05d4\u200f Lovela\u0301ce';
    const result = await sendCommand(t.nc, 'person', 'RegisterPerson', {
      actor: 'אליס',
      payload: { personId: 'unusual', name, email: 'ada@example.org' },
    });
    expect(result.events).toHaveLength(1);
    const [event] = await stored('unusual');
    expect(event).toMatchObject({ actor: 'אליס', payload: { name } });
  });
});

describe('member ids that name properties of Object.prototype, over NATS', () => {
  const who = { actor: 'alice' };
  const send = (domain: string, type: string, payload: Record<string, string>) =>
    sendCommand(t.nc, domain, type, { ...who, payload });
  const code = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: unknown) => (isCimError(error) ? `${error.code}: ${error.message}` : String(error)),
    );

  it('adds constructor and toString as members, refuses to remove valueOf, also from a snapshot', async () => {
    for (const personId of ['constructor', 'toString'])
      await send('person', 'RegisterPerson', { personId, name: 'Ada', email: 'ada@example.org' });
    await send('organization', 'CreateOrganization', { organizationId: 'proto', name: 'Engines' });
    expect(await code(send('organization', 'RemoveMember', { organizationId: 'proto', personId: 'toString' }))).toBe(
      'CIM-REJECTED: person toString is not a member of proto',
    );
    for (const personId of ['constructor', 'toString'])
      expect(await code(send('organization', 'AddMember', { organizationId: 'proto', personId }))).toBe('ok');
    expect(await code(send('organization', 'AddMember', { organizationId: 'proto', personId: 'constructor' }))).toBe(
      'CIM-REJECTED: person constructor is already a member of proto',
    );

    // The loads above wrote a snapshot; the state read back from it has both members and no other.
    const snapshot = await new SnapshotStore(t.nc).get<OrganizationState>('organization', 'proto');
    expect(snapshot?.seq).toBeGreaterThanOrEqual(2);
    const loaded = await snapshotting.load(
      { domain: 'organization', aggregate: 'Organization', aggregateId: 'proto' },
      organization.reducer,
    );
    expect(loaded.fromSnapshot).toBe(true);
    expect(loaded.state.members).toEqual({ constructor: 'member', toString: 'member' });
    expect(dagCbor.decode(dagCbor.encode(loaded.state))).toStrictEqual(loaded.state);

    expect(await code(send('organization', 'RemoveMember', { organizationId: 'proto', personId: 'valueOf' }))).toBe(
      'CIM-REJECTED: person valueOf is not a member of proto',
    );
    expect(await code(send('organization', 'RemoveMember', { organizationId: 'proto', personId: 'constructor' }))).toBe(
      'ok',
    );
    expect(await code(send('organization', 'AddMember', { organizationId: 'proto', personId: '__proto__' }))).toBe(
      'CIM-INVALID-INPUT: AddMember: personId: __proto__ is reserved; choose another id',
    );
  });
});
