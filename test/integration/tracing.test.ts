// One trace from an HTTP request to the append and on to the projector and the process manager's
// follow-up command, on a real 3-node cluster with the real gateway, services, projector and
// onboarding manager, spans caught by an in-memory exporter and no context manager: the same trace id across every NATS
// hop, each span the child of the one before it, named and kinded by the OpenTelemetry
// conventions, errors marked with their CIM code, and no personal data in any attribute. With
// the SDK gone again, nothing is traced and no event carries a traceparent.
import { join } from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import type { NatsConnection, Service } from 'nats';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connectNats,
  createApiKey,
  domainStream,
  EventStore,
  KeyRing,
  onboarding,
  Projector,
  provision,
  ReadModel,
  referenceDomains,
  startCommandService,
  type CommandObservation,
  startGateway,
  startProcessManager,
  startQueryService,
  type CommandServiceHandle,
  type GatewayHandle,
  type ProcessManagerHandle,
} from '../../appliance/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { waitFor } from '../support/wait.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_2 = '4bf92f3577b34da6a3ce929d0e0e4702';
const TRACE_3 = '4bf92f3577b34da6a3ce929d0e0e4703';
const TRACE_4 = '4bf92f3577b34da6a3ce929d0e0e4704';
const CALLER_SPAN = '00f067aa0ba902b7';
// What the test sends that is personal or identifying: none of it may appear in a span.
const PERSON = 'p-trace-ada';
const NAME = 'Ada Lovelace';
const EMAIL = 'ada@example.org';
const ACTOR = 'writer-trace';

const observed: (CommandObservation & { domain: string })[] = [];
let t: TestCluster;
let gatewayNc: NatsConnection;
let gateway: GatewayHandle;
let model: ReadModel;
let token: string;
let manager: ProcessManagerHandle;
const commandServices: CommandServiceHandle[] = [];
const queryServices: Service[] = [];
const projectors: Projector[] = [];
const exporter = new InMemorySpanExporter();
let provider: BasicTracerProvider;

beforeAll(async () => {
  // As startTracing registers the SDK: no context manager (the appliance hands contexts on itself).
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  t = await startTestCluster('tracing', 3);
  const domainNames = referenceDomains.map((d) => d.name);
  await provision(t.nc, { domains: domainNames, replicas: 3, duplicateWindowMs: 120_000 });
  const projections = referenceDomains.flatMap((d) => d.definition.projections ?? []);
  model = ReadModel.open({ path: join(t.stateDir, 'read-models.sqlite'), projections });
  for (const projection of projections) projectors.push(Projector.start({ nc: t.nc, model, projection }));
  const store = await EventStore.open(t.nc);
  for (const domain of referenceDomains) {
    commandServices.push(
      await startCommandService(t.nc, domain, {
        store,
        onCommand: (o) => observed.push({ ...o, domain: domain.name }),
      }),
    );
    const queries = await startQueryService(t.nc, domain, model);
    if (queries) queryServices.push(queries);
  }
  manager = await startProcessManager(t.nc, onboarding);
  const key = await createApiKey('writer', ACTOR);
  token = key.token;
  gatewayNc = await connectNats(t.cluster.endpointFor('gateway'), { name: 'test-tracing-gateway' });
  gateway = await startGateway({
    nc: gatewayNc,
    listen: '127.0.0.1:0',
    domains: referenceDomains,
    keys: new KeyRing([key.entry]),
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await gatewayNc?.close().catch(() => {});
  await manager?.stop();
  for (const s of commandServices) await s.stop();
  for (const s of queryServices) await s.stop();
  for (const p of projectors) await p.stop();
  model?.close();
  await t?.stop();
  await provider?.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

beforeEach(() => exporter.reset());

async function command(path: string, json: unknown, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/commands/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(json),
  });
  await response.text();
  return response.status;
}

const spans = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

const traceparentOf = (traceId: string) => `00-${traceId}-${CALLER_SPAN}-01`;

/** The one finished span of trace `traceId` named `name` (and with the attribute given), waiting for it. */
async function span(traceId: string, name: string, attribute?: [string, string]): Promise<ReadableSpan> {
  return waitFor(`span ${name}${attribute ? ` with ${attribute.join('=')}` : ''}`, () => {
    const found = spans().filter(
      (s) =>
        s.spanContext().traceId === traceId &&
        s.name === name &&
        (!attribute || s.attributes[attribute[0]] === attribute[1]),
    );
    expect(found.length).toBeLessThanOrEqual(1);
    return found[0];
  });
}

describe('a command sent over HTTP', () => {
  beforeAll(async () => {
    expect(await command('person/RegisterPerson', { personId: PERSON, name: NAME, email: EMAIL })).toBe(200);
    expect(await command('organization/CreateOrganization', { organizationId: 'o-trace', name: 'Org' })).toBe(200);
  });

  it('is one trace from the HTTP request through the append to the projector and the follow-up command', async () => {
    const traceparent = traceparentOf(TRACE_ID);
    expect(
      await command('organization/AddMember', { organizationId: 'o-trace', personId: PERSON }, { traceparent }),
    ).toBe(200);

    const http = await span(TRACE_ID, 'POST /v1/commands/{domain}/{command}');
    const send = await span(TRACE_ID, 'send cim.organization.commands.AddMember');
    const process = await span(TRACE_ID, 'process cim.organization.commands.AddMember');
    const decide = await span(TRACE_ID, 'decide AddMember');
    const publish = await span(TRACE_ID, 'publish cim.organization.events.*');
    const projected = await span(TRACE_ID, 'process cim.organization.events.*', [
      'cim.projection',
      'organization_membership',
    ]);
    const reacted = await span(TRACE_ID, 'process cim.organization.events.*', ['cim.process_manager', 'onboarding']);
    const followUp = await span(TRACE_ID, 'send cim.workflow.commands.StartWorkflow');
    const started = await span(TRACE_ID, 'process cim.workflow.commands.StartWorkflow');
    const workflowEvent = await span(TRACE_ID, 'publish cim.workflow.events.*');

    // The service's observer (the metrics and the log records of `cim serve`) is told the trace too.
    expect(observed.find((o) => o.command === 'AddMember' && o.traceId === TRACE_ID)).toMatchObject({ outcome: 'ok' });

    const chain = [http, send, process, decide, publish, projected, reacted, followUp, started, workflowEvent];
    for (const s of chain) expect(s.spanContext().traceId, s.name).toBe(TRACE_ID);
    // Parent links, across the NATS hops (request headers, event headers).
    expect(parentOf(http)).toBe(CALLER_SPAN);
    expect(parentOf(send)).toBe(idOf(http));
    expect(parentOf(process)).toBe(idOf(send));
    expect(parentOf(decide)).toBe(idOf(process));
    expect(parentOf(publish)).toBe(idOf(process));
    expect(parentOf(projected)).toBe(idOf(publish));
    expect(parentOf(reacted)).toBe(idOf(publish));
    expect(parentOf(followUp)).toBe(idOf(reacted));
    expect(parentOf(started)).toBe(idOf(followUp));
    expect(parentOf(workflowEvent)).toBe(idOf(started));

    expect(chain.map((s) => s.kind)).toEqual([
      SpanKind.SERVER,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.INTERNAL,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.CONSUMER,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.PRODUCER,
    ]);
    expect(http.attributes).toEqual({
      'http.request.method': 'POST',
      'http.route': '/v1/commands/{domain}/{command}',
      'url.path': '/v1/commands/organization/AddMember',
      'url.scheme': 'http',
      'http.response.status_code': 200,
    });
    expect(send.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'cim.organization.commands.AddMember',
    });
    expect(process.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'cim.organization.commands.AddMember',
      'cim.domain': 'organization',
      'cim.command': 'AddMember',
    });
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.template': 'cim.organization.events.*',
      'cim.stream': 'CIM_ORGANIZATION',
      'cim.event.type': 'MemberAdded',
      'cim.event.seq': 2,
    });
    expect(projected.attributes['cim.stream.seq']).toBe(publish.attributes['cim.stream.seq']);
    expect(reacted.attributes['messaging.consumer.group.name']).toBe('pm_onboarding_organization');
    for (const s of chain) expect(s.status.code, s.name).toBe(SpanStatusCode.UNSET);

    // The stored event carries the publish span's context, for any consumer to continue.
    const jsm = await t.nc.jetstreamManager();
    const stored = await jsm.streams.getMessage(domainStream('organization'), {
      seq: publish.attributes['cim.stream.seq'] as number,
    });
    expect(stored.header.get('traceparent')).toBe(`00-${TRACE_ID}-${idOf(publish)}-01`);
  });

  it('marks a failed command with its CIM code, and the HTTP span by the HTTP rules', async () => {
    const traceparent = traceparentOf(TRACE_2);
    expect(
      await command('organization/AddMember', { organizationId: 'o-trace', personId: 'p-nobody' }, { traceparent }),
    ).toBe(404);
    const http = await span(TRACE_2, 'POST /v1/commands/{domain}/{command}');
    const send = await span(TRACE_2, 'send cim.organization.commands.AddMember');
    const process = await span(TRACE_2, 'process cim.organization.commands.AddMember');
    for (const s of [send, process]) {
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'CIM-NOT-FOUND' });
      expect(s.attributes['error.type']).toBe('CIM-NOT-FOUND');
    }
    // A 4xx is the client's error: the server span names the code and is not failed.
    expect(http.status.code).toBe(SpanStatusCode.UNSET);
    expect(http.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': 'CIM-NOT-FOUND' });
  });

  it('a request without a route is named by its method alone, and the query string stays out', async () => {
    const response = await fetch(`${gateway.url}/v1/nothing?personId=${PERSON}`, {
      headers: { traceparent: traceparentOf(TRACE_3) },
    });
    expect(response.status).toBe(404);
    const http = await span(TRACE_3, 'GET');
    expect(http.attributes['url.path']).toBe('/v1/nothing');
    expect(http.attributes).not.toHaveProperty('http.route');
  });

  it('puts no personal data in any span', async () => {
    const traceparent = traceparentOf(TRACE_4);
    expect(await command('person/RenamePerson', { personId: PERSON, name: 'Ada King' }, { traceparent })).toBe(200);
    await span(TRACE_4, 'publish cim.person.events.*');
    await span(TRACE_4, 'process cim.person.events.*', ['cim.projection', 'person_directory']);
    const all = JSON.stringify(spans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status })));
    for (const secret of [PERSON, NAME, 'Ada King', EMAIL, ACTOR]) expect(all).not.toContain(secret);
  });
});

describe('with no SDK registered', () => {
  it('traces nothing, and an event stores no traceparent even when the request had one', async () => {
    trace.disable();
    context.disable();
    propagation.disable();
    exporter.reset();
    expect(
      await command(
        'person/RenamePerson',
        { personId: PERSON, name: 'Ada Byron' },
        { traceparent: traceparentOf(TRACE_ID) },
      ),
    ).toBe(200);
    const jsm = await t.nc.jetstreamManager();
    const last = await jsm.streams.getMessage(domainStream('person'), { last_by_subj: `cim.person.events.${PERSON}` });
    expect(last.header.get('Cim-Event-Type')).toBe('PersonRenamed');
    expect(last.header.has('traceparent')).toBe(false);
    expect(spans()).toEqual([]);
  });
});
