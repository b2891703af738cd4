// The scenario language: the parsed types (the contract with the runner), the schema of scenario
// files, their loader with exact line/field errors, the text of `cim scenario list|show`, and the
// shipped catalog (scenarios/catalog/*.yaml).
export * from './types.js';
export {
  ScenarioFileSchema,
  scenarioFileSchema,
  defaultPhaseName,
  parseAssertion,
  parseDuration,
  parseFaultTarget,
  parseRate,
  parseReplayTo,
  type KnownNames,
  type Parsed,
} from './schema.js';
export {
  ScenarioError,
  catalogFiles,
  checkScenario,
  defaultCatalogDir,
  findScenarios,
  formatIssue,
  formatPath,
  knownNames,
  loadCatalog,
  loadScenarioFile,
  parseScenario,
  readScenarioText,
  type FindOptions,
  type LoadOptions,
  type ParseOptions,
  type ScenarioIssue,
} from './loader.js';
export {
  describeReplayTo,
  describeTarget,
  estimateDuration,
  estimatedDurationMs,
  formatDuration,
  phaseLengthMs,
  renderScenario,
  renderScenarioList,
  summarizePhase,
  timeline,
  type DurationEstimate,
  type TimedPhase,
} from './render.js';
export {
  benchRuns,
  derivedSeed,
  environment,
  newRunId,
  runBench,
  seedRunName,
  type BenchRun,
  type BenchRunOptions,
} from './bench-run.js';
export { runFault, type FaultContext, type FaultRecord } from './faults.js';
export { evaluate, scenarioMetrics } from './metrics.js';
export { measureRecovery, RECOVERY, type Recovery, type RecoveryInput } from './recovery.js';
export { renderBenchResults, renderScenarioResult } from './render-results.js';
export * from './results.js';
export { BenchResultsSchema, benchResultsJsonSchema } from './results-schema.js';
export { runScenario, type BeforeCheckContext, type RunOptions, type ScenarioProgress } from './runner.js';
export {
  compareFigures,
  DEFAULT_MIN_REPETITIONS,
  DEFAULT_THRESHOLD,
  gate,
  geometricMean,
  type GateInput,
  type GateOptions,
  type GateResult,
  type GateSample,
  type MetricSamples,
} from './gate/verdict.js';
export { GATE_METRICS, gateInput, gateScenarioName, type GateMetric } from './gate/figures.js';
export { benchResultsOf, compareWithBaseline, parseThreshold } from './gate/compare.js';
export { performanceReport } from './performance-report.js';
