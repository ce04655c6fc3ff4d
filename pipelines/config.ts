import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_MAX_JUMP } from '../operators/market/edge-validation.ts';
import { DEFAULT_BROKER_CONFIG } from '../gateways/paper/broker-config.ts';
import { MAX_LEVERAGE } from '../operators/risk/position-sizing.ts';
import { RISK_DEFAULTS } from '../operators/risk/risk-gate.ts';
import { GOVERNANCE_DEFAULTS } from '../operators/ensemble/governance.ts';
import { SUPERVISOR_DEFAULTS } from '../operators/ensemble/supervisor.ts';
import { DEFAULT_LEARNING_CONFIG } from './learning/epic.ts';

const num = z.coerce.number();
const bool = z.union([z.boolean(), z.stringbool()]);
const ms = num.pipe(z.number().int().nonnegative());
const fraction = num.pipe(z.number().min(0).max(1));
/** A time given as ISO-8601 (UTC unless it says otherwise) or ms since the epoch. */
const instant = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const t = typeof v === 'number' || /^\d+$/.test(v) ? Number(v) : Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) || v.length <= 10 ? v : `${v}Z`);
  if (!Number.isFinite(t)) {
    ctx.addIssue({ code: 'custom', message: `not a time: ${String(v)} (use ISO-8601 like 2025-05-10 or 2025-05-10T12:00)` });
    return z.NEVER;
  }
  return t;
});
const list = z.union([z.array(z.string()), z.string()]).transform((v) =>
  (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0),
);

const ConfigShape = z.strictObject({
  run: z.strictObject({
    data: list.default([]).describe('Binance CSV files or folders; empty = the synthetic market'),
    symbols: list.default([]).describe('symbols to trade (e.g. BTC/USDT or BTCUSDT); empty = all in the data, or 5 synthetic'),
    syntheticSymbols: num.pipe(z.number().int().min(1).max(1000)).default(5),
    from: instant.optional(),
    to: instant.optional(),
    syntheticDays: num.pipe(z.number().positive().max(366)).default(2),
    seed: num.pipe(z.number().int()).default(42),
    speed: z.union([z.literal('max'), num.pipe(z.number().positive())]).default('max')
      .describe('replay rate: event-time ms per wall ms, or max'),
    progress: bool.default(true),
  }).prefault({}),
  market: z.strictObject({
    allowedLatenessMs: ms.default(1000),
    tradesPerMinute: num.pipe(z.number().positive()).default(30).describe('synthetic market activity per symbol'),
    maxJump: num.pipe(z.number().positive()).default(DEFAULT_MAX_JUMP).describe('largest relative price move accepted between consecutive valid prices'),
  }).prefault({}),
  ensemble: z.strictObject({
    modelsDir: z.string().default('models/store').describe('shipped model store <member>/<version>/; seeds the registry on first use'),
    registryDir: z.string().default('./var/registry').describe('model registry: its log registry.jsonl and the versions trained here'),
    maxWaitMs: ms.default(250),
    registryPollMs: ms.default(1000).describe('how often a running stage looks for registry changes (event time in a replay)'),
  }).prefault({}),
  governance: z.strictObject({
    halfLife: num.pipe(z.number().positive()).default(GOVERNANCE_DEFAULTS.halfLife).describe('outcomes over which a member\'s log loss halves in weight'),
    cap: fraction.default(GOVERNANCE_DEFAULTS.cap).describe('no member above this weight'),
    floor: fraction.default(GOVERNANCE_DEFAULTS.floor).describe('no member below this weight'),
    minOutcomes: num.pipe(z.number().int().min(0)).default(GOVERNANCE_DEFAULTS.minOutcomes).describe('equal weights until every champion has this many outcomes'),
    byRegime: bool.default(GOVERNANCE_DEFAULTS.byRegime).describe('weigh by the scores of the current market volatility regime'),
  }).prefault({}),
  supervisor: z.strictObject({
    biasMode: z.enum(['enforce', 'observe']).default(SUPERVISOR_DEFAULTS.biasMode).describe('enforce: block new entries on the biased side'),
    biasShare: fraction.default(SUPERVISOR_DEFAULTS.biasShare),
    biasWindow: num.pipe(z.number().int().min(1)).default(SUPERVISOR_DEFAULTS.biasWindow),
    psiThreshold: num.pipe(z.number().positive()).default(SUPERVISOR_DEFAULTS.psiThreshold).describe('feature drift: population stability index against the card'),
    brierDegradation: num.pipe(z.number().positive()).default(SUPERVISOR_DEFAULTS.brierDegradation).describe('rolling Brier above the card\'s by this fraction'),
  }).prefault({}),
  learning: z.strictObject({
    enabled: bool.default(false).describe('retrain members on a schedule, shadow, test and promote or roll back'),
    members: list.default([...DEFAULT_LEARNING_CONFIG.members]),
    retrainEveryMs: ms.default(DEFAULT_LEARNING_CONFIG.retrainEveryMs).describe('event time between retrains'),
    windowBars: num.pipe(z.number().int().min(100)).default(DEFAULT_LEARNING_CONFIG.windowBars).describe('latest bars per symbol a retrain learns from'),
    minOutcomes: num.pipe(z.number().int().min(10)).default(DEFAULT_LEARNING_CONFIG.minOutcomes).describe('paired outcomes before a promotion test'),
    testEveryOutcomes: num.pipe(z.number().int().min(1)).default(DEFAULT_LEARNING_CONFIG.testEveryOutcomes).describe('outcomes between two looks of the test (each look at alpha / looks)'),
    maxOutcomes: num.pipe(z.number().int().min(10)).default(DEFAULT_LEARNING_CONFIG.maxOutcomes).describe('give up (keep the champion) after this many'),
    alpha: fraction.default(DEFAULT_LEARNING_CONFIG.alpha).describe('significance of the one-sided Diebold-Mariano test'),
    margin: num.pipe(z.number().min(0)).default(DEFAULT_LEARNING_CONFIG.margin).describe('least mean log-loss gain to promote'),
    watchOutcomes: num.pipe(z.number().int().min(10)).default(DEFAULT_LEARNING_CONFIG.watchOutcomes).describe('outcomes a promoted model is watched against its predecessor'),
    python: z.string().default('/usr/bin/python3').describe("the trainer's interpreter (Debian's, with numpy, torch, xgboost, sklearn, onnx)"),
  }).prefault({}),
  // Defaults of risk and broker come from the modules that use them: one number each.
  risk: z.strictObject({
    confidenceGate: fraction.default(RISK_DEFAULTS.confidenceGate),
    riskPerTrade: fraction.default(RISK_DEFAULTS.riskPerTrade),
    maxLeverage: num.pipe(z.number().min(1).max(MAX_LEVERAGE)).default(RISK_DEFAULTS.maxLeverage),
    dailyDrawdownHalt: fraction.default(RISK_DEFAULTS.dailyDrawdownHalt),
    weeklyDrawdownHalt: fraction.default(RISK_DEFAULTS.weeklyDrawdownHalt),
    maxExposure: num.pipe(z.number().positive()).default(RISK_DEFAULTS.maxExposure).describe('total open notional / equity'),
    maxInstrumentExposure: num.pipe(z.number().positive()).default(RISK_DEFAULTS.maxInstrumentExposure).describe("one instrument's notional / equity"),
  }).prefault({}),
  broker: z.strictObject({
    initialEquity: num.pipe(z.number().positive()).default(DEFAULT_BROKER_CONFIG.initialEquity),
    feeBps: num.pipe(z.number().min(0)).default(DEFAULT_BROKER_CONFIG.feeBps),
    slippageBps: num.pipe(z.number().min(0)).default(DEFAULT_BROKER_CONFIG.slippageBps),
    participation: fraction.default(DEFAULT_BROKER_CONFIG.participation),
    maxBarsToFill: num.pipe(z.number().int().min(1)).default(DEFAULT_BROKER_CONFIG.maxBarsToFill),
  }).prefault({}),
  execution: z.strictObject({
    venue: z.enum(['paper', 'testnet', 'live']).default('paper'),
    liveTrading: bool.default(false).describe('must be true, explicitly, for venue=live'),
  }).prefault({}),
  kafka: z.strictObject({
    bootstrap: list.default([]).describe('Kafka bootstrap servers host:port; empty = the in-process memory bus'),
    schemaRegistryUrl: z.string().optional().describe('Confluent schema registry URL; unset = schema ids from schemas/history'),
    clientId: z.string().default('qt'),
  }).prefault({}),
  journal: z.strictObject({
    path: z.string().default('./var/journal'),
    url: z.string().optional().describe('ClickHouse server URL; unset = embedded chdb at path'),
    batchRows: num.pipe(z.number().int().min(1)).default(10_000),
    flushIntervalMs: ms.default(5_000).describe('make journal rows durable at least this often (wall time)'),
  }).prefault({}),
  metrics: z.strictObject({
    enabled: bool.default(true),
    host: z.string().default('127.0.0.1'),
    port: num.pipe(z.number().int().min(0).max(65535)).default(9464),
  }).prefault({}),
});

/** The one configuration schema of every Quantum Trader process. Durations end in Ms; fractions are 0..1. */
export const ConfigSchema = ConfigShape.superRefine((c, ctx) => {
  if (c.run.from !== undefined && c.run.to !== undefined && c.run.from >= c.run.to) {
    ctx.addIssue({ code: 'custom', path: ['run', 'to'], message: 'must be after run.from' });
  }
  if (c.execution.venue === 'live' && !c.execution.liveTrading) {
    ctx.addIssue({ code: 'custom', path: ['execution', 'liveTrading'], message: 'venue=live needs liveTrading=true (QT_EXECUTION_LIVE_TRADING=true)' });
  }
  if (c.execution.venue !== 'paper') {
    ctx.addIssue({ code: 'custom', path: ['execution', 'venue'], message: `${c.execution.venue} execution is not available yet; only paper` });
  }
});

/** The validated, frozen configuration. */
export type Config = z.output<typeof ConfigSchema>;
/** Configuration as written by a user (file, environment or flags). */
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Raised when the configuration is invalid; lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Tree = { [k: string]: unknown };

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(a: Tree, b: Tree): Tree {
  const outTree: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = outTree[k];
    outTree[k] = isTree(prev) && isTree(v) ? deepMerge(prev, v) : v;
  }
  return outTree;
}

const camelToScreaming = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** The QT_* environment variable of each config key, e.g. run.seed -> QT_RUN_SEED. */
export function envVarNames(): Map<string, [string, string]> {
  const names = new Map<string, [string, string]>();
  for (const [section, schema] of Object.entries(ConfigShape.shape)) {
    let inner: z.ZodType = schema;
    while (!(inner instanceof z.ZodObject)) inner = (inner.def as unknown as { innerType: z.ZodType }).innerType;
    for (const f of Object.keys(inner.shape)) names.set(`QT_${camelToScreaming(section)}_${camelToScreaming(f)}`, [section, f]);
  }
  return names;
}

/** QT_* variables that steer the process itself rather than the configuration. */
const PROCESS_VARS = new Set(['QT_DEBUG']);

/** Sources of configuration, lowest precedence first after the defaults. */
export interface ConfigSources {
  /** Path of a JSON config file. */
  file?: string;
  /** The process environment (only QT_* keys are read). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags, as a partial config tree. */
  flags?: Tree;
}

/**
 * Builds the configuration: defaults, then the file, then QT_* environment variables, then flags. Validates once and
 * reports every problem at once in a ConfigError. The result is deeply frozen.
 */
export function loadConfig(src: ConfigSources = {}): Config {
  const problems: string[] = [];
  let merged: Tree = {};
  if (src.file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(src.file, 'utf8'));
      if (!isTree(parsed)) problems.push(`${src.file}: must hold a JSON object`);
      else merged = deepMerge(merged, parsed);
    } catch (e) {
      problems.push(`${src.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const known = envVarNames();
  for (const [k, v] of Object.entries(src.env ?? {})) {
    if (!k.startsWith('QT_') || v === undefined || PROCESS_VARS.has(k)) continue;
    const target = known.get(k);
    if (!target) {
      problems.push(`${k}: unknown setting (known: ${[...known.keys()].join(', ')})`);
      continue;
    }
    merged = deepMerge(merged, { [target[0]]: { [target[1]]: v } });
  }
  if (src.flags) merged = deepMerge(merged, src.flags);
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.') || '(root)';
      problems.push(`${path}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return deepFreeze(result.data);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
