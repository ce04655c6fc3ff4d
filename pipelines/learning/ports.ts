import type { Bar } from '../../schemas/bar.ts';

/** The champion, shadows and past champions of one member, as the registry holds them now. */
export interface Roster {
  /** The acting version, null when the member has none. */
  readonly champion: string | null;
  /** Versions that vote into the journal without acting. */
  readonly shadows: readonly string[];
  /** Former champions, oldest first (what a rollback restores from). */
  readonly history: readonly string[];
}

/**
 * What continuous learning needs of the model registry (models/registry/ is adapted to it by the wiring). Every change
 * is made with actor `learning`, and the registry publishes it on model.registry.v1; the serving stage loads shadows and
 * champions from there.
 */
export interface LearningRegistry {
  /** The member's roster now. */
  roster(member: string): Roster;
  /** The version a new training of the member gets (unused so far). */
  nextVersion(member: string): string;
  /** The folder the artifact of a version goes to: `<registryDir>/models/<member>/<version>`. */
  artifactDir(member: string, version: string): string;
  /** Registers a trained artifact and adds it as a shadow. */
  addShadow(member: string, version: string, dir: string, reason: string): Promise<void>;
  /** Makes a shadow the champion; the former champion stays a shadow. */
  promote(member: string, version: string, reason: string): Promise<void>;
  /** Restores the previous champion. */
  rollback(member: string, reason: string): Promise<void>;
  /** Stops a shadow (its artifact stays in the store). */
  removeShadow(member: string, version: string, reason: string): Promise<void>;
}

/** Whether the trainer can train a member here, and if not, what is missing. */
export interface TrainerAvailability {
  readonly ok: boolean;
  readonly detail: string;
}

/** A training job: the latest bars of every instrument, the label horizon and the folder the artifact goes to. */
export interface TrainRequest {
  readonly member: string;
  readonly version: string;
  /** Closed bars; each instrument's in time order (instruments may follow one another). */
  readonly bars: readonly Bar[];
  /** H: the label's forward return spans this many bars. */
  readonly horizon: number;
  /** Where model.onnx and card.json are written; its last segment is the version. */
  readonly outDir: string;
}

/** A finished training: the artifact folder and the open-time range of the rows it was trained and validated on. */
export interface TrainResult {
  readonly dir: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/** Trains a member on a window of bars (the Python trainer in production, FakeTrainer in tests). */
export interface Trainer {
  /** Whether the member can be trained (interpreter and libraries present); never throws. */
  available(member: string): Promise<TrainerAvailability>;
  /** Trains, writes and checks the artifact; rejects with an error whose message says what went wrong. */
  train(req: TrainRequest): Promise<TrainResult>;
}
