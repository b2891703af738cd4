// The credentials of the NATS users the appliance's servers know: one nkey seed per role and the
// secret cluster routes authenticate with, kept in one directory (mode 0700, files 0600):
//
//   <state>/nats-users/{service,gateway,loadgen,auditor,retention,operator}.nk   nkey seeds ("SU…")
//   <state>/nats-users/route.secret                                   the route password
//
// Created on first need and reused after; `nats.usersDir` points elsewhere (the NixOS module: the
// systemd credentials directory, where they are read only).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { nkeys } from 'nats';
import type { ApplianceConfig } from '../config.js';
import { CimError } from '../errors.js';
import { NATS_ROLES, type NatsRole, type ServerAuthorization } from './server-config.js';

/** The user name routes authenticate as; the password is the route secret. */
export const ROUTE_USER = 'cim-route';
const ROUTE_SECRET_FILE = 'route.secret';

/** `nats.usersDir`, or `<state>/nats-users`. */
export function natsUsersDir(config: Pick<ApplianceConfig, 'stateDir' | 'nats'>): string {
  return resolve(config.nats.usersDir ?? join(config.stateDir, 'nats-users'));
}

export class NatsUsers {
  private readonly publicKeys = new Map<NatsRole, string>();
  private password: string | undefined;

  private constructor(readonly dir: string) {}

  /** The users in `dir`, creating the directory and whatever credential is missing; every one is read back. */
  static ensure(dir: string): NatsUsers {
    dir = resolve(dir);
    try {
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chmodSync(dir, 0o700);
      }
      for (const role of NATS_ROLES) {
        const file = seedPath(dir, role);
        if (!existsSync(file)) writeSecret(file, new TextDecoder().decode(nkeys.createUser().getSeed()) + '\n');
      }
      const secret = join(dir, ROUTE_SECRET_FILE);
      if (!existsSync(secret)) writeSecret(secret, randomBytes(32).toString('hex') + '\n');
    } catch (error) {
      if (error instanceof CimError) throw error;
      throw new CimError('CIM-INVALID-CONFIG', `nats.usersDir: cannot create the NATS credentials in ${dir}`, {
        hint: 'Point nats.usersDir (CIM_NATS_USERS_DIR) at a writable directory, or put every role’s seed there.',
        cause: error,
      });
    }
    const users = new NatsUsers(dir);
    users.authorization(); // a damaged credential is named now, not when a server is rendered
    return users;
  }

  /**
   * The users in `dir` as a client sees them; undefined when the directory holds no seed. A client
   * needs only the seeds of the roles it connects as (the NixOS module hands each unit those alone,
   * and no route secret), so nothing is read until it is asked for.
   */
  static find(dir: string): NatsUsers | undefined {
    dir = resolve(dir);
    if (!NATS_ROLES.some((role) => existsSync(seedPath(dir, role)))) return undefined;
    return new NatsUsers(dir);
  }

  seedFile(role: NatsRole): string {
    return seedPath(this.dir, role);
  }

  publicKey(role: NatsRole): string {
    const known = this.publicKeys.get(role);
    if (known !== undefined) return known;
    const file = seedPath(this.dir, role);
    let key: string;
    try {
      key = nkeys.fromSeed(new TextEncoder().encode(readFileSync(file, 'utf8').trim())).getPublicKey();
    } catch (error) {
      throw new CimError('CIM-INVALID-CONFIG', `nats.usersDir: ${file} is not a readable nkey user seed`, {
        hint: 'Remove it to have a new one created (then restart every server), or restore it from the other machines.',
        cause: error,
      });
    }
    this.publicKeys.set(role, key);
    return key;
  }

  get routePassword(): string {
    if (this.password === undefined) {
      const file = join(this.dir, ROUTE_SECRET_FILE);
      try {
        this.password = readFileSync(file, 'utf8').trim();
      } catch (error) {
        throw new CimError('CIM-INVALID-CONFIG', `nats.usersDir: cannot read ${file}`, { cause: error });
      }
    }
    return this.password;
  }

  /** What renderServerConfig needs: every role's public key and the route credentials. */
  authorization(): ServerAuthorization {
    return {
      users: NATS_ROLES.map((role) => ({ role, nkey: this.publicKey(role) })),
      route: { user: ROUTE_USER, password: this.routePassword },
    };
  }
}

function seedPath(dir: string, role: NatsRole): string {
  return join(dir, `${role}.nk`);
}

/** Written with mode 0600 from the start, never readable by others even for a moment; a concurrent creator wins. */
function writeSecret(file: string, text: string): void {
  try {
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
