/**
 * startSteppedStage on the memory bus: a (re)started stage first reads the marks published before its start; when it
 * cannot read them all (expired, dead-lettered), it processes on after ownMarksWaitMs and says so.
 */
import { describe, expect, it } from 'vitest';
import { instrumentKey } from '../../schemas/common.ts';
import { noopMeter, out } from '../../schemas/ports.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { genBars } from '../../test/fixtures/gen-bars.ts';
import { loadConfig } from '../config.ts';
import { InflightTracker } from '../run/stage-wiring.ts';
import { startSteppedStage } from './stepped-stage.ts';
import { StepPublisher } from './step-publisher.ts';
import { STEP_TOPIC } from './steps.ts';

describe('startSteppedStage', () => {
  it('waits for the marks published before its start, and processes on without them after ownMarksWaitMs', async () => {
    const bus = new MemoryBus({ clock: { now: () => 0 } });
    // The topic claims three marks more than can be read (say, expired by retention after the high watermark moved on).
    const readable = bus.endOffsets.bind(bus);
    bus.endOffsets = (topic) => (topic === STEP_TOPIC ? readable(topic).map((o) => o + 3) : readable(topic));
    const bars = genBars({ n: 3, seed: 5, exchange: 'binance', symbol: 'BTC/USDT', startOpenTime: Date.UTC(2025, 0, 6), startPrice: 100 });
    const ingest = new StepPublisher(bus, 'ingest');
    let prev = -1;
    for (const b of bars) {
      const step = b.tsEvent - (b.tsEvent % 60_000);
      ingest.begin(step, prev);
      void ingest.publish(out('md.bars.1m.v1', instrumentKey(b), b));
      await ingest.end(step + 1_000, false);
      prev = step;
    }
    const logs: string[] = [];
    const errors: unknown[] = [];
    const stage = startSteppedStage('features', bus, {
      meter: noopMeter, models: [], config: loadConfig({}), inflight: new InflightTracker(), steps: new InflightTracker(), fail: (e) => errors.push(e),
      log: (m) => logs.push(m), ownMarksWaitMs: 150,
    });
    const marks = (): StepMark[] => bus.records(STEP_TOPIC).map((r) => r.value as StepMark).filter((m) => m.stage === 'features');
    await new Promise((r) => setTimeout(r, 50));
    expect(marks()).toEqual([]); // still reading the marks published before its start
    await new Promise((r) => setTimeout(r, 250));
    expect(logs.join('\n')).toContain(`read ${STEP_TOPIC} only to offset 3 of 6`);
    expect(marks()).toHaveLength(3);
    expect(errors).toEqual([]);
    stage.close();
    await bus.close();
  });
});
