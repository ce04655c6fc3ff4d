import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counter, Gauge, Histogram, Meter } from '../schemas/ports.ts';

/** A metric name or shape that breaks the conventions (`qt_` prefix, counters end in `_total`). */
export class MetricNameError extends Error {
  override readonly name = 'MetricNameError';
  readonly retriable = false;
  constructor(
    readonly metric: string,
    readonly rule: string,
  ) {
    super(`metric ${metric}: ${rule}`);
  }
}

/** A metric registered twice with a different type, labels or buckets. */
export class MetricConflictError extends Error {
  override readonly name = 'MetricConflictError';
  readonly retriable = false;
  constructor(
    readonly metric: string,
    readonly registered: string,
    readonly requested: string,
  ) {
    super(`metric ${metric} is already registered as ${registered}, requested as ${requested}`);
  }
}

type Labels = Readonly<Record<string, string>>;

interface Entry {
  readonly shape: string;
  readonly handle: Counter | Gauge | Histogram;
}

/** Options of the Prometheus meter. */
export interface PromMeterOptions {
  /** Also export Node process metrics (CPU, memory, event-loop lag, GC) prefixed `qt_` (qt_process_*, qt_nodejs_*). Default false. */
  readonly defaultMetrics?: boolean;
  /** Labels added to every series, e.g. { instance: 'replay' }. */
  readonly defaultLabels?: Labels;
}

/**
 * The Meter port over prom-client, on its own Registry (never the global one, so meters and tests do not share
 * series). Registering a name again returns the same metric when type, labels and buckets agree, and throws a
 * MetricConflictError when they do not; names must start with `qt_` and counters end in `_total`.
 */
export class PromMeter implements Meter {
  /** The registry holding this meter's metrics. */
  readonly registry = new Registry();
  private readonly entries = new Map<string, Entry>();

  constructor(opts: PromMeterOptions = {}) {
    if (opts.defaultLabels) this.registry.setDefaultLabels({ ...opts.defaultLabels });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'qt_' });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    if (!name.endsWith('_total')) throw new MetricNameError(name, 'a counter name must end in _total');
    return this.entry(name, `counter(${labelNames.join(',')})`, () => {
      const c = new PromCounter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      return { inc: (labels?: Labels, value = 1) => (labels ? c.inc(labels, value) : c.inc(value)) };
    }) as Counter;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.entry(name, `gauge(${labelNames.join(',')})`, () => {
      const g = new PromGauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      return { set: (labels: Labels, value: number) => g.set(labels, value) };
    }) as Gauge;
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.entry(name, `histogram(${labelNames.join(',')})[${buckets.join(',')}]`, () => {
      const h = new PromHistogram({ name, help, buckets: [...buckets], labelNames: [...labelNames], registers: [this.registry] });
      return { observe: (labels: Labels, value: number) => h.observe(labels, value) };
    }) as Histogram;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `metrics()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private entry(name: string, shape: string, make: () => Counter | Gauge | Histogram): Counter | Gauge | Histogram {
    if (!/^qt_[a-z0-9_]+$/.test(name)) throw new MetricNameError(name, 'names are qt_<thing>_<unit>, lowercase');
    const hit = this.entries.get(name);
    if (hit) {
      if (hit.shape !== shape) throw new MetricConflictError(name, hit.shape, shape);
      return hit.handle;
    }
    const handle = make();
    this.entries.set(name, { shape, handle });
    return handle;
  }
}

/** What the metrics endpoint serves: a PromMeter, or anything with the same two members. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** Options of the metrics server. */
export interface MetricsServerOptions {
  /** Interface to bind; default 127.0.0.1 (ARCHITECTURE §6: never all interfaces unless configured). */
  readonly host?: string;
  /** Port; 0 picks a free one (see the returned `port`). */
  readonly port: number;
  readonly meter: MetricsSource;
  /** Readiness, asked on every /readyz. */
  readonly ready: () => boolean;
}

/** A running metrics server. */
export interface MetricsServer {
  /** Base URL, e.g. http://127.0.0.1:9464. */
  readonly url: string;
  readonly host: string;
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** The metrics server could not listen. */
export class MetricsServerError extends Error {
  override readonly name = 'MetricsServerError';
  readonly retriable: boolean;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    super(`cannot listen on ${host}:${port}${code ? ` (${code})` : ''}`, { cause });
    this.retriable = code === 'EADDRINUSE';
  }
}

function send(res: ServerResponse, head: boolean, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: MetricsServerOptions): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, false, 405, 'method not allowed\n');
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/metrics': {
      let text: string;
      try {
        text = await opts.meter.metrics();
      } catch {
        return send(res, head, 500, 'metrics collection failed\n');
      }
      return send(res, head, 200, text, opts.meter.contentType);
    }
    case '/livez':
      return send(res, head, 200, 'ok\n');
    case '/readyz': {
      let ready = false;
      try {
        ready = opts.ready();
      } catch {
        ready = false;
      }
      return ready ? send(res, head, 200, 'ready\n') : send(res, head, 503, 'not ready\n');
    }
    default:
      return send(res, head, 404, 'not found: try /metrics, /livez or /readyz\n');
  }
}

/** Serves /metrics (Prometheus text), /livez (200 while the process runs) and /readyz (200 when ready, else 503). */
export function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handle(req, res, opts).catch(() => {
      if (!res.headersSent) send(res, false, 500, 'internal error\n');
      else res.destroy();
    });
  });
  return new Promise((resolvePromise, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => reject(new MetricsServerError(host, opts.port, e.code, e));
    server.once('error', onError);
    server.listen(opts.port, host, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      let closing: Promise<void> | undefined;
      resolvePromise({
        url,
        host,
        port,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          })),
      });
    });
  });
}
