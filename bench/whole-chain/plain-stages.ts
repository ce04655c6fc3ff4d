/**
 * The stages of the plain loop that the product keeps inside an operator's closure rather than an exported engine (the
 * ensemble epic's batching and score, the brains operator): restated here statement for statement over the same pure
 * engines and functions, which are never copied. Risk is the product's RiskDesk, used as is by the plain loop.
 */
import type { SchedulerLike } from 'rxjs';
import type { ClassifierModel } from '../../models/model-port.ts';
import { softVote, type WeightedVote } from '../../operators/ensemble/soft-vote.ts';
import { featureIndex } from '../../operators/features/feature-set.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { EnsembleSignal, MarketContext } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';

const iAtr = featureIndex('atr_pct_14');
const iVol = featureIndex('rvol_30');
const iRsi = featureIndex('rsi_14');
const iEma = featureIndex('ema_ratio_12_26');
const iRet = featureIndex('ret_15');

function marketOf(v: FeatureVector): MarketContext {
  const at = (i: number): number => v.values[i] ?? Number.NaN;
  return { close: v.close, atrPct: at(iAtr), realizedVol: at(iVol), rsi: at(iRsi), emaRatio: at(iEma), ret: at(iRet) };
}

/**
 * The ensemble epic's micro-batching and scoring without RxJS: vectors of one tsEvent form a batch that closes when a
 * vector of another tsEvent arrives or maxWaitMs after its first vector (the replay timer); each batch is one
 * predict() per model and one vote per member plus one signal per vector, in the epic's order.
 */
export class PlainEnsemble {
  private open: { key: number; due: number; vectors: FeatureVector[] } | null = null;
  private readonly closed: { vectors: FeatureVector[]; tsInit: number }[] = [];
  /** Batches closed by a vector of another tsEvent before their timer (the chain would score them at once). */
  earlyCloses = 0;
  private readonly featureSet: string;
  private readonly nFeatures: number;

  constructor(private readonly models: readonly ClassifierModel[], private readonly maxWaitMs: number) {
    this.featureSet = models[0]!.card.featureSet;
    this.nFeatures = models[0]!.card.features.length;
  }

  /** Takes a vector at clock time `now`. */
  add(v: FeatureVector, now: number): void {
    if (this.open && this.open.key === v.tsEvent) {
      this.open.vectors.push(v);
      return;
    }
    if (this.open) {
      this.closed.push({ vectors: this.open.vectors, tsInit: now });
      this.earlyCloses++;
    }
    this.open = { key: v.tsEvent, due: now + this.maxWaitMs, vectors: [v] };
  }

  /** Batches ready once the replay time reaches `ms`, in the order they closed (a timer closes at its due time). */
  takeReady(ms: number): { vectors: FeatureVector[]; tsInit: number }[] {
    if (this.open && this.open.due <= ms) {
      this.closed.push({ vectors: this.open.vectors, tsInit: this.open.due });
      this.open = null;
    }
    return this.closed.splice(0);
  }

  private reject(v: FeatureVector): string | null {
    if (v.featureSet !== this.featureSet) return 'FEATURE_SET_MISMATCH';
    if (v.values.length !== this.nFeatures) return 'FEATURE_COUNT_MISMATCH';
    return v.values.some((x) => !Number.isFinite(x)) ? 'NON_FINITE_FEATURE' : null;
  }

  /** The epic's score(): votes and signals of a batch (a rejected vector is counted as a dead letter, simplified). */
  async score(batch: readonly FeatureVector[], tsInit: number): Promise<Outgoing[]> {
    const nF = this.nFeatures;
    const accepted = batch.filter((v) => this.reject(v) === null);
    const rows = accepted.length;
    const x = new Float32Array(rows * nF);
    accepted.forEach((v, i) => x.set(v.values, i * nF));
    const probs: Float32Array[] = [];
    if (rows > 0) for (const m of this.models) probs.push(await m.predict(x, rows));
    const result: Outgoing[] = [];
    let row = 0;
    for (const v of batch) {
      const key = instrumentKey(v);
      const why = this.reject(v);
      if (why) {
        // The epic writes the Avro-encoded vector as payload; only the count and reason matter here.
        const payload = Buffer.from(JSON.stringify(v));
        result.push(out('feat.vectors.v1.dlq', key, {
          id: deriveId('dlq', 'feat.vectors.v1', v.id, why), tsEvent: v.tsEvent, tsInit, sourceTopic: 'feat.vectors.v1', partition: -1,
          offset: -1, key, payload, stage: 'ensemble', errorClass: 'VectorRejected', reason: why, message: why,
        }));
        continue;
      }
      const acting: WeightedVote[] = [];
      this.models.forEach((m, j) => {
        const p = probs[j]!;
        const [pDown, pFlat, pUp] = [p[row * 3]!, p[row * 3 + 1]!, p[row * 3 + 2]!];
        result.push(out('model.votes.v1', key, {
          id: deriveId('vote', v.id, m.member, m.version), tsEvent: v.tsEvent, tsInit, exchange: v.exchange, symbol: v.symbol,
          featureId: v.id, member: m.member, modelVersion: m.version, role: m.role, pDown, pFlat, pUp,
        }));
        if (m.role === 'CHAMPION') acting.push({ member: m.member, modelVersion: m.version, weight: 1, pDown, pFlat, pUp });
      });
      const sv = softVote(acting);
      const signal: EnsembleSignal = {
        id: deriveId('sig', v.id, ...sv.members.map((m) => `${m.member}@${m.modelVersion}:${m.weight}`)),
        tsEvent: v.tsEvent, tsInit, exchange: v.exchange, symbol: v.symbol, featureId: v.id,
        pDown: sv.pDown, pFlat: sv.pFlat, pUp: sv.pUp, signal: sv.signal, confidence: sv.confidence, members: sv.members,
        supervisor: 'OK', supervisorReason: '', market: marketOf(v),
      };
      result.push(out('ens.signals.v1', key, signal));
      row++;
    }
    return result;
  }
}

/** A clock the plain loop moves by hand, usable where the engines take a Clock or read a SchedulerLike's now(). */
export function manualClock(startMs: number): { t: number; now(): number; asScheduler(): SchedulerLike } {
  const c = {
    t: startMs,
    now(): number {
      return c.t;
    },
    // The engines only call now(); nothing is scheduled on it.
    asScheduler: (): SchedulerLike => c as unknown as SchedulerLike,
  };
  return c;
}
