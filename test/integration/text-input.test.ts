// Text that commands carry, on a real cluster: a name or an actor holding a control character, a
// bidi override or a lone surrogate is refused at the edge with CIM-INVALID-INPUT naming the field
// and the character as an escape, and nothing is stored; text that is merely unusual (emoji,
// right-to-left script with its marks, combining accents) is stored exactly as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventStore,
  isCimError,
  person,
  provision,
  sendCommand,
  startCommandService,
  type CommandServiceHandle,
  type EventEnvelope,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let t: TestCluster;
let service: CommandServiceHandle;
let store: EventStore;

beforeAll(async () => {
  t = await startTestCluster('text-input', 3);
  await provision(t.nc, { domains: ['person'], replicas: 3, duplicateWindowMs: 120_000 });
  store = await EventStore.open(t.nc);
  service = await startCommandService(t.nc, person, { store });
});

afterAll(async () => {
  await service?.stop().catch(() => {});
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
