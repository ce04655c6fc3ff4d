import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { from } from 'rxjs';
import { loadModel } from '../../models/load.ts';
import { DEFAULT_LABEL } from '../../operators/ensemble/scoring.ts';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import { exportDataset } from '../dataset/export.ts';
import type { Trainer, TrainerAvailability, TrainRequest, TrainResult } from './ports.ts';

/** Debian's interpreter, which has numpy, onnx, xgboost, scikit-learn and torch (see training/README.md). */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** The Python library each member's trainer needs beyond qt_training, numpy and onnx. */
export const MEMBER_LIBRARIES: Readonly<Record<string, string>> = Object.freeze({
  xgb: 'xgboost',
  // LightGBM when importable, else scikit-learn's HistGradientBoosting: scikit-learn is the one that must be there.
  lgbm: 'sklearn',
  nhits: 'torch',
  patchtst: 'torch',
});

/**
 * Retrain settings per member: smaller than the shipped models' (trained once on a month), so a retrain on a 7-day
 * window takes seconds (trees) to about a minute (torch) on one core while the pipeline keeps serving on the other.
 */
export const RETRAIN_SETTINGS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  xgb: ['--trees', '60', '--depth', '4'],
  lgbm: ['--trees', '60', '--max-leaves', '15', '--min-leaf', '100'],
  nhits: ['--epochs', '2', '--train-rows', '30000', '--batch-size', '512'],
  patchtst: ['--epochs', '1', '--train-rows', '15000', '--batch-size', '256'],
});

/** Arguments every retrain gets: one thread (the other core serves), a short parity file, the shared label band. */
const COMMON_ARGS: readonly string[] = ['--threads', '1', '--parity-rows', '256', '--label-k', String(DEFAULT_LABEL.k)];

/** Why a retrain failed. */
export type TrainerErrorReason = 'UNAVAILABLE' | 'NO_DATA' | 'EXPORT_FAILED' | 'PROCESS_FAILED' | 'TIMEOUT' | 'ARTIFACT_INVALID';

/** A retrain that failed; retrying the same request would fail the same way, so not retriable (the next tick retries). */
export class TrainerError extends Error {
  override readonly name = 'TrainerError';
  readonly retriable = false;
  constructor(
    readonly reason: TrainerErrorReason,
    readonly member: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${member}: ${reason}: ${detail}`, options);
  }
}

/** Options of the Python trainer. */
export interface PythonTrainerOptions {
  /** The interpreter (default /usr/bin/python3). */
  readonly python?: string;
  /** The folder holding qt_training (default <repo>/training). */
  readonly trainingDir?: string;
  /** Where the temporary dataset folders go (default the OS temp folder). */
  readonly workDir?: string;
  /** Replaces RETRAIN_SETTINGS entries (whole argument lists per member). */
  readonly settings?: Readonly<Record<string, readonly string[]>>;
  /** Bar interval, ms (default 60000). */
  readonly intervalMs?: number;
  /** A training running longer is killed (default 15 minutes). */
  readonly timeoutMs?: number;
  /** Keep the exported dataset after the training (for inspection). */
  readonly keepDataset?: boolean;
  /** Receives the trainer's stderr lines (progress), e.g. a logger; default: dropped. */
  readonly onLog?: (line: string) => void;
}

interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly spawnError?: Error;
  readonly timedOut: boolean;
}

const TAIL = 4000;

/** Runs a process to its end, keeping the tail of its output; never rejects. */
function runProcess(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; onLine?: (l: string) => void }): Promise<ProcessResult> {
  return new Promise((done) => {
    let stdout = '';
    let stderr = '';
    let partial = '';
    let timedOut = false;
    let spawnError: Error | undefined;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => (stdout = (stdout + b.toString('utf8')).slice(-TAIL)));
    child.stderr.on('data', (b: Buffer) => {
      const text = b.toString('utf8');
      stderr = (stderr + text).slice(-TAIL);
      if (opts.onLine) {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.trim() !== '') opts.onLine(l);
      }
    });
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, spawnError, timedOut });
    });
  });
}

const lastLines = (s: string, n = 6): string => s.trim().split('\n').slice(-n).join(' | ');

/** Checks which Python modules import; prints `ok` or `missing: <module> (<error>); ...`. */
const CHECK_SCRIPT = [
  'import importlib, sys',
  'missing = []',
  'for m in sys.argv[1:]:',
  '    try:',
  '        importlib.import_module(m)',
  '    except Exception as e:',
  '        missing.append(f"{m} ({type(e).__name__}: {e})")',
  'print("missing: " + "; ".join(missing) if missing else "ok")',
  'sys.exit(1 if missing else 0)',
].join('\n');

/**
 * The Trainer of production: exports the window of bars with the serving feature operator (pipelines/dataset/export.ts)
 * into a temporary folder, runs `python -m qt_training.train` with the member's retrain settings into the request's
 * outDir, then loads the artifact with loadModel (card checked against FEATURE_NAMES, sha256, graph shapes) and closes
 * it. A failed run leaves no half-written version folder behind.
 */
export class PythonTrainer implements Trainer {
  readonly python: string;
  readonly trainingDir: string;
  private readonly checks = new Map<string, Promise<TrainerAvailability>>();

  constructor(private readonly opts: PythonTrainerOptions = {}) {
    this.python = opts.python ?? DEFAULT_PYTHON;
    this.trainingDir = opts.trainingDir ?? resolve(import.meta.dirname, '..', '..', 'training');
  }

  private env(): NodeJS.ProcessEnv {
    // OMP_WAIT_POLICY: see training/qt_training/__init__.py (spinning OpenMP threads on a shared 2-core machine).
    return { ...process.env, PYTHONPATH: this.trainingDir, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE', PYTHONDONTWRITEBYTECODE: '1' };
  }

  /** Whether qt_training, numpy, onnx and the member's library import with the interpreter; checked once per member. */
  available(member: string): Promise<TrainerAvailability> {
    let check = this.checks.get(member);
    if (!check) {
      check = this.check(member);
      this.checks.set(member, check);
    }
    return check;
  }

  private async check(member: string): Promise<TrainerAvailability> {
    const library = MEMBER_LIBRARIES[member];
    if (library === undefined) return { ok: false, detail: `no trainer for member ${member} (known: ${Object.keys(MEMBER_LIBRARIES).join(', ')})` };
    if (!existsSync(join(this.trainingDir, 'qt_training'))) return { ok: false, detail: `no qt_training package in ${this.trainingDir}` };
    const modules = ['qt_training', 'numpy', 'onnx', library];
    const r = await runProcess(this.python, ['-c', CHECK_SCRIPT, ...modules], { cwd: this.trainingDir, env: this.env(), timeoutMs: 120_000 });
    if (r.spawnError) return { ok: false, detail: `python interpreter ${this.python} cannot be started: ${r.spawnError.message}` };
    if (r.timedOut) return { ok: false, detail: `python ${this.python}: importing ${modules.join(', ')} took over 120 s` };
    if (r.code === 0) return { ok: true, detail: `${this.python} imports ${modules.join(', ')}` };
    const missing = r.stdout.trim().split('\n').find((l) => l.startsWith('missing: '));
    return { ok: false, detail: `python ${this.python}: ${missing ?? `import check exited with ${r.code ?? r.signal}: ${lastLines(r.stderr)}`}` };
  }

  /** Exports, trains, checks; TrainerError on any failure. */
  async train(req: TrainRequest): Promise<TrainResult> {
    const { member, version, outDir } = req;
    const a = await this.available(member);
    if (!a.ok) throw new TrainerError('UNAVAILABLE', member, a.detail);
    if (req.bars.length === 0) throw new TrainerError('NO_DATA', member, 'no bars to train on');
    const parent = this.opts.workDir ?? tmpdir();
    await mkdir(parent, { recursive: true });
    const work = await mkdtemp(join(parent, `qt-retrain-${member}-${version}-`));
    const existed = existsSync(outDir);
    const discard = async (): Promise<void> => {
      if (!existed) await rm(outDir, { recursive: true, force: true });
    };
    try {
      const csv = join(work, `${member}-${version}.csv`);
      let labelled: number;
      try {
        labelled = (await exportDataset({ bars$: from(req.bars), out: csv, horizon: req.horizon, intervalMs: this.opts.intervalMs })).labelled;
      } catch (e) {
        throw new TrainerError('EXPORT_FAILED', member, `dataset export: ${(e as Error).message}`, { cause: e });
      }
      if (labelled === 0) throw new TrainerError('NO_DATA', member, `${req.bars.length} bars give no labelled row (warm-up and horizon need more)`);
      const settings = this.opts.settings?.[member] ?? RETRAIN_SETTINGS[member] ?? [];
      const args = ['-m', 'qt_training.train', '--data', csv, '--member', member, '--out', outDir, '--version', version, '--horizon', String(req.horizon), ...COMMON_ARGS, ...settings];
      const r = await runProcess(this.python, args, { cwd: this.trainingDir, env: this.env(), timeoutMs: this.opts.timeoutMs ?? 15 * 60_000, onLine: this.opts.onLog });
      if (r.spawnError) {
        await discard();
        throw new TrainerError('UNAVAILABLE', member, `python interpreter ${this.python} cannot be started: ${r.spawnError.message}`, { cause: r.spawnError });
      }
      if (r.timedOut) {
        await discard();
        throw new TrainerError('TIMEOUT', member, `trainer killed after ${this.opts.timeoutMs ?? 15 * 60_000} ms`);
      }
      if (r.code !== 0) {
        await discard();
        throw new TrainerError('PROCESS_FAILED', member, `qt_training.train exited with ${r.code ?? r.signal}: ${lastLines(r.stderr)}`);
      }
      let range: { fromMs: number; toMs: number };
      try {
        const model = await loadModel(outDir, { member, expectedFeatures: FEATURE_NAMES });
        range = { fromMs: model.card.data.train.fromMs, toMs: model.card.data.validation.toMs };
        await model.close();
      } catch (e) {
        await discard();
        throw new TrainerError('ARTIFACT_INVALID', member, `the trained artifact does not load: ${(e as Error).message}`, { cause: e });
      }
      return { dir: outDir, ...range };
    } finally {
      if (!this.opts.keepDataset) await rm(work, { recursive: true, force: true });
    }
  }
}
