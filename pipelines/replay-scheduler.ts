import { VirtualTimeScheduler } from 'rxjs';
import type { Clock } from '../schemas/ports.ts';

/**
 * The scheduler of a replay: its now() is the replay's event time, and actions scheduled on it (batch timeouts, for
 * instance) run when the replay advances past their due time. Live runs use rxjs' asyncScheduler instead.
 */
export class ReplayScheduler extends VirtualTimeScheduler implements Clock {
  constructor(startMs: number) {
    super();
    this.frame = startMs;
  }

  /** Sets the replay time without running scheduled actions (cheap; called per input record). Time never goes back. */
  setTime(ms: number): void {
    if (ms > this.frame) this.frame = ms;
  }

  /** Moves the replay time to `ms`, running every action due by then in order. */
  advanceTo(ms: number): void {
    this.maxFrames = Math.max(ms, this.frame);
    this.flush();
    this.setTime(ms);
  }

  /** True when actions are waiting for a later replay time. */
  hasPending(): boolean {
    return this.actions.length > 0;
  }
}
