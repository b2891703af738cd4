// The terminal lines of a scenario's replica comparison and its checker per replica: each copy
// read from its own server, every divergence named, every copy that could not be read said.
import { describeDivergence } from '../appliance/index.js';
import type { ScenarioResult } from './results.js';

export function replicaLines(r: ScenarioResult): string[] {
  const lines: string[] = [];
  const perReplica = r.checker?.perReplica ?? [];
  if (perReplica.length > 0)
    lines.push(
      `  checker per replica: ${perReplica
        .map(
          (p) =>
            `${p.server}${p.stream ? ` ${p.stream}` : ''} lost ${p.lost}, unexpected ${p.unexpected}, duplicates ${p.duplicates}`,
        )
        .join('; ')}`,
    );
  const c = r.replicas;
  if (!c) return lines;
  const copies = Math.max(0, ...c.streams.map((s) => s.replicas.length));
  lines.push(
    `  replicas: ${c.streams.length} stream(s), up to ${copies} replica(s) each, every copy read from its own server — ${c.divergences.length} divergence(s)`,
  );
  for (const d of c.divergences.slice(0, 10)) lines.push(`    ${describeDivergence(d)}`);
  if (c.divergences.length > 10) lines.push(`    … and ${c.divergences.length - 10} more`);
  for (const u of c.unreadable) lines.push(`    unreadable: ${u.server} ${u.stream}: ${u.reason}`);
  return lines;
}
