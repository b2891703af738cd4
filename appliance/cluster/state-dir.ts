// The embedded cluster's files under the state dir: a manifest naming the nodes and their ports,
// and per node its config, pid file, log and JetStream store.
//
//   <state>/cluster/cluster.json
//   <state>/cluster/<node>/{server.json,server.pid,server.log,store/}
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerNode } from './server-config.js';

export interface ClusterManifest {
  name: string;
  /** Left running by `cim cluster up`, for later commands to use; otherwise owned by `ownerPid`. */
  persistent: boolean;
  ownerPid: number;
  binary: string;
  version: string;
  /** Where the binary came from (pinned build, Debian package, PATH, …): older manifests lack it. */
  source?: string;
  goVersion?: string;
  oldServerNote?: string;
  syncInterval?: string | undefined;
  startedAt: string;
  /** Where the users' seeds are (nats-users.ts); older manifests lack it: their servers ask for no credentials. */
  usersDir?: string;
  nodes: ServerNode[];
}

export class ClusterStateDir {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, 'cluster');
  }

  get manifestFile(): string {
    return join(this.root, 'cluster.json');
  }

  nodeDir(node: string): string {
    return join(this.root, node);
  }

  configFile(node: string): string {
    return join(this.nodeDir(node), 'server.json');
  }

  pidFile(node: string): string {
    return join(this.nodeDir(node), 'server.pid');
  }

  logFile(node: string): string {
    return join(this.nodeDir(node), 'server.log');
  }

  storeDir(node: string): string {
    return join(this.nodeDir(node), 'store');
  }

  readManifest(): ClusterManifest | undefined {
    try {
      return JSON.parse(readFileSync(this.manifestFile, 'utf8')) as ClusterManifest;
    } catch {
      return undefined;
    }
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a manifest. */
  writeManifest(manifest: ClusterManifest): void {
    mkdirSync(this.root, { recursive: true });
    const tmp = `${this.manifestFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
    renameSync(tmp, this.manifestFile);
  }

  readPid(node: string): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile(node), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  writePid(node: string, pid: number): void {
    writeFileSync(this.pidFile(node), `${pid}\n`);
  }

  removePid(node: string): void {
    rmSync(this.pidFile(node), { force: true });
  }

  /** Every node directory that holds a pid file, whatever the manifest says. */
  pidFiles(): Array<{ node: string; pid: number }> {
    let entries: string[];
    try {
      entries = readdirSync(this.root);
    } catch {
      return [];
    }
    return entries.flatMap((node) => {
      const pid = this.readPid(node);
      return pid === undefined ? [] : [{ node, pid }];
    });
  }

  /** The last lines of a node's log, for error messages. */
  /** The last lines of a node's log; a Go panic's or fatal error's own line first when the tail is its stack. */
  logTail(node: string, lines = 8): string {
    try {
      const all = readFileSync(this.logFile(node), 'utf8').trimEnd().split('\n');
      const tail = all.slice(-lines);
      const cause = all.findLast((line) => /^panic:|^fatal error:|\[FTL\]/.test(line));
      return cause && !tail.includes(cause) ? [cause, '…', ...tail].join('\n') : tail.join('\n');
    } catch {
      return '(no log)';
    }
  }
}
