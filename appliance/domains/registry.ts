// The one registry of served domains: the reference domains (or those a caller names), then the
// plugins' from the configuration, and the lookups of what they serve.
import { CimError } from '../errors.js';
import { loadDomainPlugins, type Domain, type ProjectionDefinition } from '../decider/index.js';
import { organization } from './organization.js';
import { person } from './person.js';
import { workflow } from './workflow.js';

/** The domains the appliance runs out of the box, in dependency order (organization needs person). */
export const referenceDomains: readonly Domain<unknown>[] = [person, organization, workflow];

/** The served domains: `builtIn` (the reference domains unless given), then the plugins', whose names may not clash with them. */
export async function servedDomains(
  plugins: readonly string[] = [],
  builtIn: readonly Domain<unknown>[] = referenceDomains,
): Promise<Domain<unknown>[]> {
  return [
    ...builtIn,
    ...(await loadDomainPlugins(
      plugins,
      builtIn.map((d) => d.name),
    )),
  ];
}

/** The projection called `name` among the domains' projections; CIM-NOT-FOUND naming those there are. */
export function findProjection(domains: readonly Domain<unknown>[], name: string): ProjectionDefinition {
  const projections = domains.flatMap((d) => d.definition.projections ?? []);
  const projection = projections.find((p) => p.name === name);
  if (!projection)
    throw new CimError('CIM-NOT-FOUND', `projection ${name} is not served`, {
      hint: `Projections: ${projections.map((p) => p.name).join(', ')}.`,
    });
  return projection;
}
