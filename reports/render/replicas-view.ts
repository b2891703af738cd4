// The replica comparison and the checker per replica of a scenario, as the HTML and Markdown
// renderings show them: one row per replica's checker, one line per divergence, one per copy that
// could not be read. Kept apart so each renderer adds them in one place.
import { describeDivergence } from '../../appliance/index.js';
import type { ScenarioView } from './performance-view.js';

export interface ReplicaSection {
  /** [server, lost, unexpected, duplicates], as counts. */
  perReplica: {
    server: string;
    lost: number | undefined;
    unexpected: number | undefined;
    duplicates: number | undefined;
  }[];
  /** `replica n2 of CIM_PERSON is missing seq 57–60 (against n1; the seals agree with n1)`. */
  divergences: string[];
  unreadable: string[];
  /** `3 stream(s), 3 replica(s) each`. */
  summary: string;
}

/** Undefined when the scenario has neither a comparison nor a checker per replica (an older report, or none was made). */
export function replicaSection(s: ScenarioView): ReplicaSection | undefined {
  const perReplica = s.checker?.perReplica ?? [];
  if (!s.replicas && perReplica.length === 0) return undefined;
  const streams = s.replicas?.streams ?? [];
  const copies = Math.max(0, ...streams.map((st) => st.replicas.length));
  return {
    perReplica: perReplica.map((r) => ({
      server: r.stream ? `${r.server} (${r.stream})` : r.server,
      lost: r.lost,
      unexpected: r.unexpected,
      duplicates: r.duplicates,
    })),
    divergences: (s.replicas?.divergences ?? []).map((d) =>
      describeDivergence({ ...d, ...(d.agreesWithSeals ? { agreesWithSeals: d.agreesWithSeals } : {}) }),
    ),
    unreadable: (s.replicas?.unreadable ?? []).map((u) => `${u.server} ${u.stream}: ${u.reason}`),
    summary: `${streams.length} stream(s), up to ${copies} replica(s) each, every copy read from its own server`,
  };
}
