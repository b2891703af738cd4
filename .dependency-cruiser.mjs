// The direction of dependencies between the top-level folders, checked by `npm run lint`
// (dependency-cruiser): cli/ is the composition root and may import everything; below it
// scenarios/ → bench/ → reports/ → appliance/, and compliance/ → reports/, appliance/; appliance/
// imports none of them. From outside a folder, only its index.ts is imported, and no runtime import
// leads back to where it started. test/ is not checked: tests may reach into any module.
const FOLDERS = '(appliance|bench|cli|compliance|reports|scenarios)';

/** A rule that forbids imports from `from` into each folder of `to`. */
const layer = (name, from, to, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^${from}/` },
  to: { path: `^(${to.join('|')})/` },
});

export default {
  forbidden: [
    layer(
      'appliance-imports-no-other-folder',
      'appliance',
      ['bench', 'cli', 'compliance', 'reports', 'scenarios'],
      'appliance/ is the runtime every other folder builds on; it builds on none of them',
    ),
    layer(
      'reports-import-only-appliance',
      'reports',
      ['bench', 'cli', 'compliance', 'scenarios'],
      'reports/ renders what a report carries structurally; it never imports bench/ or scenarios/',
    ),
    layer(
      'bench-imports-appliance-and-reports',
      'bench',
      ['cli', 'compliance', 'scenarios'],
      'bench/ measures; scenarios/ and cli/ drive it, not the other way round',
    ),
    layer(
      'compliance-imports-appliance-and-reports',
      'compliance',
      ['bench', 'cli', 'scenarios'],
      'compliance/ audits the appliance; it does not depend on the benchmarks',
    ),
    layer('scenarios-import-no-cli', 'scenarios', ['cli', 'compliance'], 'only cli/ wires scenarios/ to the rest'),
    {
      name: 'decider-is-pure',
      comment: 'appliance/decider/ is the pure decider: nothing it imports, directly or not, reaches NATS or SQLite',
      severity: 'error',
      from: { path: '^appliance/decider/' },
      to: { path: 'node_modules/(nats|better-sqlite3)/', reachable: true },
    },
    {
      name: 'through-index-only',
      comment:
        "from outside a top-level folder, only its index.ts is imported: the folder's surface is what index.ts exports",
      severity: 'error',
      from: { path: `^${FOLDERS}/` },
      to: { path: `^${FOLDERS}/`, pathNot: ['^$1/', `^${FOLDERS}/index\\.ts$`] },
    },
    {
      name: 'no-circular',
      comment:
        'no module reaches itself again through runtime imports (a cycle of type-only imports is erased by tsc and loads fine)',
      severity: 'error',
      from: { path: `^${FOLDERS}/` },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'sources-import-no-tests',
      comment: 'test/ may use the sources, never the other way round',
      severity: 'error',
      from: { path: `^${FOLDERS}/` },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import the checker cannot resolve would escape every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a back edge in a type is a back edge.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
