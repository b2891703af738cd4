// Users' own domains, loaded by module path from the configuration (`domains.plugins`): a plugin
// module exports domains made with `defineDomain`, or plain definitions, which are checked here
// the same way. Loaded once at start-up; a plugin that cannot be used stops the start, naming it.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CimError } from '../errors.js';
import { defineDomain, Domain } from './define-domain.js';
import type { DomainDefinition } from './types.js';

function isDomain(value: unknown): value is Domain<unknown> {
  // Duck-typed too: a plugin may have resolved its own copy of this module.
  return (
    value instanceof Domain ||
    (typeof value === 'object' &&
      value !== null &&
      'definition' in value &&
      typeof (value as Domain).validate === 'function')
  );
}

function isDefinition(value: unknown): value is DomainDefinition<unknown> {
  const v = value as Partial<DomainDefinition<unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.decide === 'function' &&
    typeof v.evolve === 'function' &&
    typeof v.commands === 'object'
  );
}

export async function loadDomainPlugins(
  paths: readonly string[],
  reserved: readonly string[] = [],
): Promise<Domain<unknown>[]> {
  const domains: Domain<unknown>[] = [];
  const taken = new Set(reserved);
  for (const path of paths) {
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
    } catch (error) {
      throw new CimError(
        'CIM-INVALID-CONFIG',
        `domains.plugins: cannot load ${path}: ${(error as Error).message.split('\n')[0]}`,
        {
          hint: 'A plugin is an ES module (a .js or .mjs file) exporting domains made with defineDomain.',
        },
      );
    }
    const found: Domain<unknown>[] = [];
    for (const value of Object.values(module)) {
      if (isDomain(value)) found.push(value);
      else if (isDefinition(value)) {
        try {
          found.push(defineDomain(value));
        } catch (error) {
          throw new CimError('CIM-INVALID-CONFIG', `domains.plugins: ${path}: ${(error as Error).message}`);
        }
      }
    }
    if (found.length === 0)
      throw new CimError(
        'CIM-INVALID-CONFIG',
        `domains.plugins: ${path} exports no domain (made with defineDomain, or a definition with name, commands, decide and evolve)`,
      );
    for (const domain of found) {
      if (taken.has(domain.name))
        throw new CimError(
          'CIM-INVALID-CONFIG',
          `domains.plugins: ${path}: a domain named ${domain.name} is already served`,
        );
      taken.add(domain.name);
      domains.push(domain);
    }
  }
  return domains;
}
