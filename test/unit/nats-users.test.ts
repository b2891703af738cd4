// The per-role NATS credentials in the state dir: created on first need with private modes,
// reused after, found only when present, and a damaged seed named in a config error.
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ApplianceConfigSchema,
  CimError,
  NATS_ROLES,
  natsUsersDir,
  NatsUsers,
  roleEndpoint,
  ROUTE_USER,
} from '../../appliance/index.js';
import { fileTempDir } from '../support/temp-dir.js';

const work = fileTempDir('nats-users');

describe('NatsUsers', () => {
  it('creates a seed per role and the route secret (dir 0700, files 0600), and reuses them', () => {
    const dir = join(work.path, 'a', 'nats-users');
    expect(NatsUsers.find(dir)).toBeUndefined();
    const users = NatsUsers.ensure(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const role of NATS_ROLES) {
      expect(statSync(users.seedFile(role)).mode & 0o777).toBe(0o600);
      expect(readFileSync(users.seedFile(role), 'utf8')).toMatch(/^SU[A-Z2-7]+\n$/);
      expect(users.publicKey(role)).toMatch(/^U[A-Z2-7]{55}$/);
    }
    expect(users.routePassword).toMatch(/^[0-9a-f]{64}$/);
    const again = NatsUsers.ensure(dir);
    expect(NATS_ROLES.map((r) => again.publicKey(r))).toEqual(NATS_ROLES.map((r) => users.publicKey(r)));
    expect(again.routePassword).toBe(users.routePassword);
    expect(NatsUsers.find(dir)!.authorization()).toEqual({
      users: NATS_ROLES.map((role) => ({ role, nkey: users.publicKey(role) })),
      route: { user: ROUTE_USER, password: users.routePassword },
    });
  });

  it('names a damaged seed in a CIM-INVALID-CONFIG error', () => {
    const dir = join(work.path, 'b');
    NatsUsers.ensure(dir);
    writeFileSync(join(dir, 'gateway.nk'), 'not a seed\n');
    const error = (() => {
      try {
        NatsUsers.find(dir)!.authorization();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CimError);
    expect((error as CimError).message).toContain('gateway.nk');
  });

  it('serves a client from the seeds of its own roles alone, as the NixOS module hands them over', () => {
    const full = NatsUsers.ensure(join(work.path, 'full'));
    const partial = join(work.path, 'partial');
    mkdirSync(partial, { mode: 0o700 });
    copyFileSync(full.seedFile('service'), join(partial, 'service.nk'));
    const users = NatsUsers.find(partial)!;
    expect(users.publicKey('service')).toBe(full.publicKey('service'));
    expect(() => users.publicKey('loadgen')).toThrow(/loadgen\.nk is not a readable nkey user seed/);
    expect(() => users.authorization()).toThrow(CimError);
  });

  it('lives in <state>/nats-users unless nats.usersDir says otherwise', () => {
    expect(natsUsersDir(ApplianceConfigSchema.parse({ stateDir: '/s' }))).toBe('/s/nats-users');
    expect(natsUsersDir(ApplianceConfigSchema.parse({ stateDir: '/s', nats: { usersDir: '/run/creds' } }))).toBe(
      '/run/creds',
    );
  });

  it('gives a role its seed and inbox prefix, a creds file to every role, and nothing without either', () => {
    const users = NatsUsers.ensure(join(work.path, 'c'));
    expect(roleEndpoint(['nats://x:4222'], 'loadgen', { users })).toEqual({
      servers: ['nats://x:4222'],
      nkeySeedFile: users.seedFile('loadgen'),
      inboxPrefix: '_INBOX_loadgen',
    });
    expect(roleEndpoint(['nats://x:4222'], 'operator', { users, credsFile: '/k/app.creds' })).toEqual({
      servers: ['nats://x:4222'],
      credsFile: '/k/app.creds',
    });
    expect(roleEndpoint(['nats://x:4222'], 'auditor', {})).toEqual({ servers: ['nats://x:4222'] });
  });
});
