import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const SOURCE = new RegExp(
  `^${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(appliance|bench|cli|compliance|reports|scenarios)/(.*)\\.ts$`,
);

/**
 * Under c8 (which sets NODE_V8_COVERAGE), tests import the appliance's modules from dist/, as the
 * CLI processes they spawn run them, and Node loads them itself. In-process and CLI coverage are
 * then of the same scripts: c8 adds them up per script and maps them to the .ts sources once,
 * through tsc's source maps. (vitest's own transform of the .ts files has no source map Node keeps,
 * and mapped separately the two would count each function and branch twice.)
 */
function testBuiltModules(): Plugin {
  return {
    name: 'cim-test-built-modules',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      const match = resolved && SOURCE.exec(resolved.id);
      if (!match) return resolved;
      const built = `${root}dist/${match[1]}/${match[2]}.js`;
      if ((statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0) < statSync(resolved.id).mtimeMs) {
        throw new Error(
          `${built} is missing or older than ${resolved.id}: run \`npm run build\` (npm test does it for you)`,
        );
      }
      return { id: built, external: true };
    },
  };
}

const coverage = process.env.NODE_V8_COVERAGE !== undefined;

export default defineConfig({
  plugins: coverage ? [testBuiltModules()] : [],
  test: {
    include: ['test/**/*.test.ts'],
    // Under c8, makes the workers write their coverage (they are stopped by a signal), and lets Node
    // load the modules from dist/ (see testBuiltModules).
    setupFiles: ['test/support/coverage.ts'],
    server: { deps: { external: coverage ? [/\/dist\/(appliance|bench|cli|compliance|reports|scenarios)\//] : [] } },
    // Integration files each start their own nats-server cluster; on 2 cores two at a time is the limit.
    fileParallelism: true,
    maxWorkers: 2,
    // Generous bounds, never the measure: a test that waits (test/support cli.ts, wait.ts, nix.ts) sets a
    // timeout of its own when its waits add up to more.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // CIM_TEST_RESULTS: where the JSON report goes (the server matrix writes one per version).
    reporters: ['default', ['json', { outputFile: process.env.CIM_TEST_RESULTS ?? 'coverage/test-results.json' }]],
  },
});
