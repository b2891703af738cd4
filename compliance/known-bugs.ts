// nats-server releases with known ways of losing acknowledged data, with the exact ranges and where
// they are documented, and the lookup of a version in them. The durability check reports a server
// in a range. Sources: the upstream issues named, and Jepsen's analysis of 2.12.1
// (https://jepsen.io/analyses/nats-2.12.1, 2025-12-08).
import { compareVersions } from '../appliance/index.js';
import type { FindingSeverity } from './findings.js';

export interface KnownBug {
  /** Stable id, the upstream issue: `nats-server#6888`. */
  id: string;
  title: string;
  /** Affected: from `introduced` (inclusive; undefined: every release before the fix) up to `fixed` (exclusive). */
  introduced?: string;
  /** The first release without it; undefined while no release is known to fix it. */
  fixed?: string;
  /**
   * Without a fix: the releases it was shown on. Those are reported at `severity`; later ones at
   * `info`, since nothing shows them fixed, nor affected.
   */
  shownOn?: readonly string[];
  severity: FindingSeverity;
  risk: string;
  remedy: string;
  references: readonly string[];
}

export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    id: 'nats-server#4320',
    title: 'clustered streams let concurrent publishes with the same expected last subject sequence through',
    fixed: '2.9.21',
    severity: 'medium',
    risk:
      'two writers racing for one aggregate position can both be acknowledged; the appliance closes the race with ' +
      'its position message ids (Nats-Msg-Id), other writers of the cluster are not protected',
    remedy: 'run nats-server 2.9.21 or later (2.10.0 has the fix too)',
    references: ['https://github.com/nats-io/nats-server/issues/4320', 'docs/servers.md'],
  },
  {
    id: 'nats-server#6888',
    title: 'a few process crashes make JetStream forget a stream ever existed',
    introduced: '2.10.20',
    fixed: '2.10.23',
    severity: 'critical',
    risk: 'after kill -9 of some servers a stream and every message in it can be lost for good, also with sync_interval always',
    remedy: 'upgrade to nats-server 2.10.23 or later',
    references: [
      'https://github.com/nats-io/nats-server/issues/6888',
      'https://jepsen.io/analyses/nats-2.12.1 (the note on 2.10.22)',
    ],
  },
  {
    id: 'nats-server#7549',
    title: 'single-bit errors in .blk files on a minority of nodes lose acknowledged writes',
    shownOn: ['2.12.1'],
    severity: 'high',
    risk: 'a corrupted block file on one replica can make the cluster lose acknowledged messages from the middle of a stream',
    remedy:
      'use a release that fixes nats-server#7549 once there is one; meanwhile seal often and run `cim verify`, which finds a lost sealed event',
    references: ['https://github.com/nats-io/nats-server/issues/7549', 'https://jepsen.io/analyses/nats-2.12.1'],
  },
  {
    id: 'nats-server#7556',
    title: 'corrupted $SYS snapshot files on a minority can make nodes delete streams',
    shownOn: ['2.12.1'],
    severity: 'high',
    risk: 'a corrupted meta snapshot makes a node treat a stream as orphaned and remove its data; the cluster may not recover quorum',
    remedy: 'use a release that fixes nats-server#7556 once there is one; keep backups of every node store',
    references: ['https://github.com/nats-io/nats-server/issues/7556', 'https://jepsen.io/analyses/nats-2.12.1'],
  },
  {
    id: 'nats-server#7567',
    title: 'a single-node power failure with pauses or partitions leaves streams in split-brain',
    shownOn: ['2.12.1'],
    severity: 'high',
    risk: 'acknowledged messages are visible on some replicas and missing on others, for good',
    remedy:
      'set jetstream sync_interval: always (the durability check reports it), and use a release that fixes nats-server#7567',
    references: ['https://github.com/nats-io/nats-server/issues/7567', 'https://jepsen.io/analyses/nats-2.12.1'],
  },
  {
    id: 'nats-server#7545',
    title: 'membership changes with kills and partitions lose acknowledged writes',
    shownOn: ['2.12.1'],
    severity: 'high',
    risk: 'removing a peer while others crash or are partitioned can lose acknowledged messages, also with sync_interval always',
    remedy: 'avoid peer removals while nodes are down; use a release that fixes nats-server#7545 once there is one',
    references: ['https://github.com/nats-io/nats-server/issues/7545', 'https://jepsen.io/analyses/nats-2.12.1'],
  },
];

/** The acknowledged-before-synced default (`sync_interval` 2 min): what the durability check says of it. */
export const DEFERRED_FSYNC = {
  id: 'nats-server#7564',
  references: ['https://github.com/nats-io/nats-server/issues/7564', 'https://jepsen.io/analyses/nats-2.12.1'],
} as const;

export interface BugMatch {
  bug: KnownBug;
  severity: FindingSeverity;
  /** Why it applies: in the fixed range, shown on this release, or not known to be fixed. */
  why: string;
}

/** The known bugs a server version has, or may have, and how severe each is for it. */
export function knownBugsOf(version: string, bugs: readonly KnownBug[] = KNOWN_BUGS): BugMatch[] {
  const matches: BugMatch[] = [];
  for (const bug of bugs) {
    if (bug.introduced !== undefined && compareVersions(version, bug.introduced) < 0) continue;
    if (bug.fixed !== undefined) {
      if (compareVersions(version, bug.fixed) < 0)
        matches.push({
          bug,
          severity: bug.severity,
          why: bug.introduced
            ? `${version} is in ${bug.introduced} up to ${bug.fixed}, which fixed it`
            : `${version} is before ${bug.fixed}, which fixed it`,
        });
      continue;
    }
    const shown = bug.shownOn ?? [];
    if (shown.includes(version)) {
      matches.push({ bug, severity: bug.severity, why: `shown on ${version}; no release is known to fix it` });
    } else if (shown.some((s) => compareVersions(version, s) > 0)) {
      matches.push({
        bug,
        severity: 'info',
        why: `shown on ${shown.join(', ')}; no release is known to fix it, so ${version} may have it too`,
      });
    }
  }
  return matches;
}
