// The audit log's records, read once per `cim comply` (audit completeness and erasure both need
// them), and what the checks ask of them.
import { readAuditLog, type TailedRecord } from '../appliance/index.js';
import type { CheckContext } from './findings.js';

export function auditRecords(ctx: CheckContext): Promise<TailedRecord[]> {
  return ctx.once('audit-records', async () => {
    try {
      return await readAuditLog(await ctx.connect('auditor'));
    } catch (error) {
      if (/not found/i.test((error as Error).message)) return [];
      throw error;
    }
  });
}
