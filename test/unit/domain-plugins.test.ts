// Users' domain plugins, loaded by module path: a plain definition or a defined domain works the
// same as a reference domain; a plugin that cannot be used is refused naming it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isCimError, loadDomainPlugins, specFor } from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('plugins');
afterAll(() => work.remove());
const zod = fileURLToPath(new URL('../../node_modules/zod/index.js', import.meta.url));

function plugin(name: string, body: string): string {
  const path = join(work.path, name);
  writeFileSync(path, `import { z } from ${JSON.stringify(zod)};\n${body}`);
  return path;
}

const ticket = `export const tickets = {
  name: 'ticket',
  aggregate: 'Ticket',
  commands: { OpenTicket: { schema: z.object({ ticketId: z.string(), title: z.string().min(1) }), aggregateId: (p) => p.ticketId } },
  events: { TicketOpened: z.object({ ticketId: z.string(), title: z.string() }) },
  initialState: () => ({ open: false }),
  decide(command, state) {
    if (state.open) throw Object.assign(new Error('already open'), {});
    return [{ type: 'TicketOpened', payload: command.payload }];
  },
  evolve: (state, e) => (e.type === 'TicketOpened' ? { open: true } : state),
};`;

describe('loadDomainPlugins', () => {
  it('loads a plain definition as a domain the spec kit can drive', async () => {
    const [domain] = await loadDomainPlugins([plugin('tickets.mjs', ticket)]);
    expect(domain!.name).toBe('ticket');
    specFor(domain!)
      .given([])
      .when('OpenTicket', { ticketId: 't1', title: 'Printer on fire' })
      .then([{ type: 'TicketOpened', payload: { ticketId: 't1', title: 'Printer on fire' } }]);
  });

  it('refuses a missing module, a module without domains, a bad definition and a name already served', async () => {
    const refused = async (paths: string[], reserved: string[] = []) => {
      const error = await loadDomainPlugins(paths, reserved).catch((e: unknown) => e);
      expect(isCimError(error, 'CIM-INVALID-CONFIG')).toBe(true);
      return (error as Error).message;
    };
    expect(await refused([join(work.path, 'nope.mjs')])).toMatch(/cannot load .*nope\.mjs/);
    expect(await refused([plugin('empty.mjs', 'export const answer = 42;')])).toMatch(/exports no domain/);
    expect(await refused([plugin('bad.mjs', ticket.replace("name: 'ticket'", "name: 'Ticket!'"))])).toMatch(
      /name "Ticket!"/,
    );
    expect(await refused([plugin('clash.mjs', ticket)], ['ticket'])).toMatch(/ticket is already served/);
  });
});
