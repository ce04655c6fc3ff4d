import { EMPTY, merge, share, type Observable, type SchedulerLike } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import { tradesToBars } from '../../operators/market/trades-to-bars.ts';
import { validateBars } from '../../operators/market/validate-bars.ts';
import { validateTrades } from '../../operators/market/validate-trades.ts';
import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';
import type { SourceRecord, Validated } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';

/** Inputs of the ingest stage: raw records from a market source (ticks, or bars straight from kline files). */
export interface IngestInputs {
  readonly trades?: Observable<SourceRecord<Trade>>;
  readonly bars?: Observable<SourceRecord<Bar>>;
}

/** Dependencies of the ingest stage. */
export interface IngestDeps {
  readonly scheduler: SchedulerLike;
  readonly allowedLatenessMs: number;
  /** Largest relative move from the last valid price (or close) before a record is a PRICE_JUMP dead letter. */
  readonly maxJump?: number;
  /** Known instruments (exchange:symbol); undefined accepts every instrument. */
  readonly symbols?: ReadonlySet<string>;
}

const STAGE = 'ingest';

/**
 * Ingest: validates ticks at the edge (invalid ones become dead letters with their reason, nothing valid is dropped),
 * publishes them to md.trades.v1 and aggregates them into 1-minute bars on md.bars.1m.v1. Bars from kline files are
 * validated the same way and published as they are.
 */
export function ingestEpic(inputs: IngestInputs, deps: IngestDeps): Observable<Outgoing> {
  const trades$ = inputs.trades
    ? inputs.trades.pipe(
        validateTrades({ symbols: deps.symbols, allowedLatenessMs: deps.allowedLatenessMs, maxJump: deps.maxJump, stage: STAGE, scheduler: deps.scheduler }),
        share(),
      )
    : EMPTY;
  const validTrades$ = trades$.pipe(
    filter((v): v is Extract<Validated<Trade>, { ok: true }> => v.ok),
    map((v) => v.value),
    share(),
  );
  const tradeOut$ = merge(
    // Subscribed before the bar pipe below, so a tick that closes a bar is published before that bar.
    validTrades$.pipe(map((t) => out('md.trades.v1', instrumentKey(t), t))),
    trades$.pipe(
      filter((v): v is Extract<Validated<Trade>, { ok: false }> => !v.ok),
      map((v) => out('md.trades.v1.dlq', v.deadLetter.key ?? '', v.deadLetter)),
    ),
    validTrades$.pipe(
      tradesToBars({ allowedLatenessMs: deps.allowedLatenessMs, scheduler: deps.scheduler }),
      map((b) => out('md.bars.1m.v1', instrumentKey(b), b)),
    ),
  );
  const barOut$ = inputs.bars
    ? inputs.bars.pipe(
        validateBars({ symbols: deps.symbols, allowedLatenessMs: deps.allowedLatenessMs, maxJump: deps.maxJump, stage: STAGE, scheduler: deps.scheduler }),
        map((v) =>
          v.ok
            ? out('md.bars.1m.v1', instrumentKey(v.value), v.value)
            : out('md.bars.1m.v1.dlq', v.deadLetter.key ?? '', v.deadLetter),
        ),
      )
    : EMPTY;
  return merge(tradeOut$, barOut$);
}
