// One nats-server OS process: started by us (a ChildProcess we can watch) or adopted by pid from a
// pid file (started by an earlier `cim cluster up`, or orphaned by a crashed run).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { sleep } from '../sleep.js';

/** The kernel's state letter for a process (R, S, T = stopped, Z = zombie, ...), if /proc has it. */
function stateLetter(pid: number): string | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) S ..." — the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

/** Alive means it exists and is not a zombie waiting to be reaped. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return stateLetter(pid) !== 'Z';
}

/** The process's command line, or undefined when it is gone or unreadable. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

export interface SpawnOptions {
  binary: string;
  configFile: string;
  logFile: string;
  /** Keep running after this Node process exits (`cim cluster up`). */
  outliveParent: boolean;
  /** A command that execs the server (`ip netns exec NS`): the pid stays the server's own. */
  prefix?: readonly string[];
}

export class ServerProcess {
  private exited = false;

  private constructor(
    readonly pid: number,
    private readonly child?: ChildProcess,
  ) {
    child?.once('exit', () => {
      this.exited = true;
    });
  }

  /**
   * Starts nats-server in its own process group, so a Ctrl-C in the terminal reaches only the
   * appliance, which then stops the servers in order instead of all dying at once.
   */
  static spawn(options: SpawnOptions): ServerProcess {
    const log = openSync(options.logFile, 'a');
    try {
      const [command, ...args] = [...(options.prefix ?? []), options.binary, '-c', options.configFile];
      const child = spawn(command!, args, {
        detached: true,
        stdio: ['ignore', log, log],
      });
      if (child.pid === undefined) throw new Error(`could not start ${options.binary}`);
      if (options.outliveParent) child.unref();
      return new ServerProcess(child.pid, child);
    } finally {
      closeSync(log);
    }
  }

  static adopt(pid: number): ServerProcess {
    return new ServerProcess(pid);
  }

  isAlive(): boolean {
    return !this.exited && isProcessAlive(this.pid);
  }

  /** Stopped by SIGSTOP (state T), i.e. paused by a fault. */
  isPaused(): boolean {
    const state = stateLetter(this.pid);
    return state === 'T' || state === 't';
  }

  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Resolves true once the process has exited, false if it is still alive after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.isAlive()) {
      if (Date.now() >= deadline) return false;
      await sleep(20);
    }
    return true;
  }

  /** SIGKILL, then wait until the process is really gone (its ports and files released). */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.waitExit(10_000);
  }

  /** Graceful stop: resume if paused, SIGTERM, and SIGKILL after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.isAlive()) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    if (!(await this.waitExit(graceMs))) await this.kill();
  }
}
