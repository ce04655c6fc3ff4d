/** A one-line progress bar on a TTY (redrawn in place), or a line every 10% elsewhere. */
export class Progress {
  private lastDraw = 0;
  private lastDecile = -1;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled: boolean,
    private readonly now: () => number,
  ) {}

  /** Shows the fraction done (0..1) with a status text. */
  update(fraction: number, status: string): void {
    if (!this.enabled) return;
    const f = Math.min(1, Math.max(0, fraction));
    if (this.stream.isTTY) {
      const t = this.now();
      if (t - this.lastDraw < 100 && f < 1) return;
      this.lastDraw = t;
      const width = 20;
      const full = Math.round(f * width);
      const line = `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}% ${status}`;
      this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 120) - 1)}\u001b[K`);
    } else {
      const decile = Math.floor(f * 10);
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.stream.write(`${(f * 100).toFixed(0).padStart(3)}% ${status}\n`);
    }
  }

  /** Ends the bar so later output starts on a new line. */
  done(): void {
    if (this.enabled && this.stream.isTTY) this.stream.write('\n');
  }
}
