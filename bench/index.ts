// The load scheduler, drivers, measurement and the raw JetStream baseline: the public surface of bench/.
export {
  runAppendBenchmark,
  type AppendBenchmarkOptions,
  type AppendBenchmarkPhase,
  type AppendBenchmarkResult,
  type VerifyFigure,
} from './components/append-throughput.js';
export {
  parseCsv as parseNatsBenchCsv,
  runNatsBench,
  type NatsBenchOptions,
  type NatsBenchResult,
} from './components/nats-bench.js';
export { runMicroBenchmarks, type MicroBenchmarkOptions, type MicroBenchmarkResult } from './components/micro.js';
export { runRawBaseline, type RateFigure, type RawBaselineOptions, type RawBaselineResult } from './raw-baseline.js';
export {
  renderAppendBenchmark,
  renderAuditBenchmark,
  renderCommandBenchmark,
  renderGrowthBenchmark,
  renderHttpCommandBenchmark,
  renderMicroBenchmarks,
  renderTracingBenchmark,
} from './components/render-text.js';
export {
  runHttpCommandBenchmark,
  type HttpCommandBenchmarkOptions,
  type HttpCommandBenchmarkPhase,
  type HttpCommandBenchmarkResult,
  type HttpCommandSide,
} from './components/http-command.js';
export {
  runCommandBenchmark,
  type CommandBenchmarkOptions,
  type CommandBenchmarkPhase,
  type CommandBenchmarkResult,
} from './components/command-throughput.js';
export {
  runGrowthBenchmark,
  type AppendCostFigure,
  type GrowthBenchmarkOptions,
  type GrowthBenchmarkPhase,
  type GrowthBenchmarkResult,
  type HistoryFigure,
  type RebuildSize,
} from './components/cost-growth.js';
export { fillChains, type ChainFillOptions } from './components/chain-fill.js';
export {
  runAuditBenchmark,
  type AuditBenchmarkOptions,
  type AuditBenchmarkResult,
  type AuditModeFigures,
} from './components/audit-overhead.js';
export {
  runTracingBenchmark,
  type TracingBenchmarkOptions,
  type TracingBenchmarkResult,
} from './components/tracing-overhead.js';
export {
  latencyAtRate,
  runLanes,
  runSchedule,
  scenarioClock,
  type Issue,
  type LatencyFigure,
  type Schedule,
  type ScheduleRun,
  type ThroughputFigure,
} from './schedule.js';
export {
  runReplayBenchmark,
  type RawReadFigure,
  type ReplayBenchmarkOptions,
  type ReplayBenchmarkResult,
} from './components/replay-throughput.js';
export { checkHistory, type Attempt, type CheckerOptions, type CheckerVerdict, type ReadItem } from './checker.js';
export { CommandMix, GENERATED_COMMANDS, MixWorld, type GeneratedCommand, type MixWeight } from './command-mix.js';
export { commandIssuer, NOT_APPLIED, rawBody, rawBodyId, rawIssuer } from './issuers.js';
export {
  gatewayClient,
  GatewayTransportError,
  httpIssuer,
  judge as judgeGatewayReply,
  type GatewayClient,
  type GatewayClientOptions,
  type HttpLoadOptions,
} from './http-issuer.js';
export { latencyHistogram, mergeLatencies, type LatencySummary } from './latency.js';
export { seededRandom, type Random } from './random.js';
export { detectableDifference, holmAdjust, pooledStandardDeviation, welchTTest, type WelchResult } from './t-test.js';
export { PhaseRecorder, type OperationRecord, type SecondSample } from './recorder.js';
export { sampleServerStats, type ServerSample, type ServerStatsSampler } from './server-stats.js';
export { readBackCopy, readBackDomain, readBackRaw, type BackMessage, type ReadBackResult } from './read-back.js';
export {
  bootstrapRelativeChange,
  mannWhitneyU,
  median,
  quantile,
  type BootstrapOptions,
  type MannWhitneyResult,
  type RelativeChangeInterval,
} from './statistics.js';
