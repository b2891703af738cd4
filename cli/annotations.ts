// GitHub Actions workflow commands: when `GITHUB_ACTIONS` is set, a gate's regressions and what it
// could not compare become `::error`/`::warning` annotations on the run's summary page.
import type { GateVerdict } from '../reports/index.js';

/** Escapes a workflow command's message (%, CR and LF), as the runner expects. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function githubAnnotations(verdict: GateVerdict, env: NodeJS.ProcessEnv = process.env, write = print): void {
  if (env.GITHUB_ACTIONS !== 'true') return;
  for (const c of verdict.regressions)
    write(
      `::error title=Performance regression::${escapeData(`${c.scenario} ${c.metric}: ${(c.relativeChange * 100).toFixed(1)} % (${c.better} is better)`)}`,
    );
  if (verdict.verdict === 'insufficient-data') write(`::error title=Performance gate::${escapeData(verdict.text)}`);
  else if (verdict.missing.length > 0) write(`::warning title=Performance gate::${escapeData(verdict.text)}`);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
