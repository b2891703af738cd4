// Runs the checks (all, or those named) one after another in a context, with progress per check.
import { CimError } from '../appliance/index.js';
import { accessCheck } from './checks/access.js';
import { auditCompletenessCheck } from './checks/audit-completeness.js';
import { durabilityCheck } from './checks/durability.js';
import { erasureCheck } from './checks/erasure.js';
import { immutabilityCheck } from './checks/immutability.js';
import { retentionCheck } from './checks/retention.js';
import { SEVERITIES, type CheckContext, type CheckName, type CheckOutcome, type ComplianceCheck } from './findings.js';

/** The checks built, in the order they run (access first: immutability reads its matrix). */
export const CHECKS: readonly ComplianceCheck[] = [
  accessCheck,
  immutabilityCheck,
  retentionCheck,
  auditCompletenessCheck,
  erasureCheck,
  durabilityCheck,
];

export interface RunOptions {
  only?: readonly CheckName[];
  /** Each check's progress: `done` of `total` units (what a unit is, is the check's). */
  onProgress?: (check: CheckName, done: number, total?: number) => void;
  /** Told when a check starts and ends. */
  onCheck?: (check: ComplianceCheck, outcome?: CheckOutcome) => void;
  checks?: readonly ComplianceCheck[];
}

export function selectChecks(
  only: readonly string[] | undefined,
  checks: readonly ComplianceCheck[] = CHECKS,
): ComplianceCheck[] {
  if (!only || only.length === 0) return [...checks];
  const names = checks.map((c) => c.name);
  for (const name of only)
    if (!names.includes(name as CheckName))
      throw new CimError('CIM-INVALID-INPUT', `--check ${name}: no such check`, {
        hint: `Checks: ${names.join(', ')}.`,
      });
  return checks.filter((c) => only.includes(c.name));
}

export async function runChecks(ctx: CheckContext, options: RunOptions = {}): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of selectChecks(options.only, options.checks)) {
    options.onCheck?.(check);
    const outcome = await check.run(ctx, (done, total) => options.onProgress?.(check.name, done, total));
    // Most severe first, then by id: the same system gives the same report.
    outcome.findings.sort(
      (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || a.id.localeCompare(b.id),
    );
    outcomes.push(outcome);
    options.onCheck?.(check, outcome);
  }
  return outcomes;
}

/** Findings per severity of one outcome. */
export function countBySeverity(outcome: CheckOutcome): Record<(typeof SEVERITIES)[number], number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<(typeof SEVERITIES)[number], number>;
  for (const f of outcome.findings) counts[f.severity]++;
  return counts;
}

/** Whether the outcomes fail `cim comply`: any critical or high finding. */
export function failed(outcomes: readonly CheckOutcome[]): boolean {
  return outcomes.some((o) => o.findings.some((f) => f.severity === 'critical' || f.severity === 'high'));
}
