import { afterEach, describe, expect, it } from 'vitest';
import { METRICS, defineCounter, defineGauge, defineHistogram, type MetricDef } from '../schemas/metrics.ts';
import { MetricConflictError, MetricNameError, MetricsServerError, PromMeter, startMetricsServer, type MetricsServer } from './prometheus.ts';

/** The sample lines of one metric family, without HELP/TYPE comments. */
async function samples(meter: PromMeter, name: string): Promise<string[]> {
  return (await meter.metrics()).split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#'));
}

describe('PromMeter', () => {
  it('counts per label set, with the default increment of 1', async () => {
    const m = new PromMeter();
    const c = m.counter('qt_messages_in_total', 'Messages consumed by a stage', ['stage', 'topic']);
    c.inc({ stage: 'features', topic: 'md.bars.1m.v1' });
    c.inc({ stage: 'features', topic: 'md.bars.1m.v1' });
    c.inc({ stage: 'features', topic: 'md.bars.1m.v1' }, 5);
    c.inc({ stage: 'risk', topic: 'brain.decisions.v1' });
    expect(await samples(m, 'qt_messages_in_total')).toEqual([
      'qt_messages_in_total{stage="features",topic="md.bars.1m.v1"} 7',
      'qt_messages_in_total{stage="risk",topic="brain.decisions.v1"} 1',
    ]);
  });

  it('counts without labels', async () => {
    const m = new PromMeter();
    const c = m.counter('qt_ticks_total', 'Ticks');
    c.inc();
    c.inc(undefined, 2);
    expect(await samples(m, 'qt_ticks_total')).toEqual(['qt_ticks_total 3']);
  });

  it('sets gauges to the last value, per label set', async () => {
    const m = new PromMeter();
    const g = defineGauge(m, METRICS.riskMode);
    g.set({ mode: 'NORMAL' }, 1);
    g.set({ mode: 'SAFE' }, 0);
    g.set({ mode: 'NORMAL' }, 0);
    g.set({ mode: 'SAFE' }, 1);
    expect(await samples(m, 'qt_risk_mode')).toEqual(['qt_risk_mode{mode="NORMAL"} 0', 'qt_risk_mode{mode="SAFE"} 1']);
  });

  it('fills cumulative histogram buckets, sum and count', async () => {
    const m = new PromMeter();
    const h = m.histogram('qt_inference_duration_seconds', 'Inference time', [0.001, 0.01, 0.1], ['member']);
    h.observe({ member: 'xgb' }, 0.003);
    h.observe({ member: 'xgb' }, 0.02);
    h.observe({ member: 'xgb' }, 0.0005);
    // 0.0005 <= 0.001; 0.003 <= 0.01; 0.02 <= 0.1. Sum 0.0235.
    expect(await samples(m, 'qt_inference_duration_seconds')).toEqual([
      'qt_inference_duration_seconds_bucket{le="0.001",member="xgb"} 1',
      'qt_inference_duration_seconds_bucket{le="0.01",member="xgb"} 2',
      'qt_inference_duration_seconds_bucket{le="0.1",member="xgb"} 3',
      'qt_inference_duration_seconds_bucket{le="+Inf",member="xgb"} 3',
      'qt_inference_duration_seconds_sum{member="xgb"} 0.0235',
      'qt_inference_duration_seconds_count{member="xgb"} 3',
    ]);
  });

  it('returns the same metric when a name is registered again with the same shape', async () => {
    const m = new PromMeter();
    m.counter('qt_orders_total', 'a', ['status']).inc({ status: 'FILLED' });
    m.counter('qt_orders_total', 'other help text', ['status']).inc({ status: 'FILLED' });
    expect(await samples(m, 'qt_orders_total')).toEqual(['qt_orders_total{status="FILLED"} 2']);
  });

  it('refuses a name registered again with other labels, type or buckets', () => {
    const m = new PromMeter();
    m.counter('qt_orders_total', 'x', ['status']);
    m.histogram('qt_wait_seconds', 'x', [1, 2]);
    expect(() => m.counter('qt_orders_total', 'x', ['status', 'purpose'])).toThrow(MetricConflictError);
    expect(() => m.gauge('qt_orders_total', 'x', ['status'])).toThrow(MetricConflictError);
    expect(() => m.histogram('qt_wait_seconds', 'x', [1, 5])).toThrow(MetricConflictError);
  });

  it('enforces the naming conventions', () => {
    const m = new PromMeter();
    expect(() => m.counter('qt_messages', 'x')).toThrow(MetricNameError);
    expect(() => m.gauge('equity', 'x')).toThrow(MetricNameError);
    expect(() => m.gauge('qt_Equity', 'x')).toThrow(MetricNameError);
  });

  it('keeps each meter on its own registry', async () => {
    const a = new PromMeter();
    const b = new PromMeter();
    a.counter('qt_x_total', 'x').inc();
    b.counter('qt_x_total', 'x').inc(undefined, 4);
    expect(await samples(a, 'qt_x_total')).toEqual(['qt_x_total 1']);
    expect(await samples(b, 'qt_x_total')).toEqual(['qt_x_total 4']);
  });

  it('registers every standard metric, and adds process metrics and default labels when asked', async () => {
    const m = new PromMeter({ defaultMetrics: true, defaultLabels: { instance: 'test' } });
    for (const def of Object.values(METRICS) as MetricDef[]) {
      if (def.type === 'counter') defineCounter(m, def).inc(Object.fromEntries(def.labelNames.map((l) => [l, 'v'])));
      else if (def.type === 'gauge') defineGauge(m, def).set(Object.fromEntries(def.labelNames.map((l) => [l, 'v'])), 1);
      else defineHistogram(m, def).observe(Object.fromEntries(def.labelNames.map((l) => [l, 'v'])), 0.001);
    }
    const text = await m.metrics();
    for (const def of Object.values(METRICS) as MetricDef[]) expect(text).toContain(`# TYPE ${def.name} ${def.type}`);
    expect(text).toContain('qt_journal_rows_total{table="v",instance="test"} 1');
    expect(text).toMatch(/^qt_process_resident_memory_bytes\{instance="test"\} \d+/m);
  });
});

describe('startMetricsServer', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /metrics, /livez and /readyz on 127.0.0.1 with an ephemeral port', async () => {
    const meter = new PromMeter();
    meter.counter('qt_fills_total', 'Fills', ['purpose']).inc({ purpose: 'ENTRY' }, 3);
    let ready = false;
    server = await startMetricsServer({ port: 0, meter, ready: () => ready });
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe(meter.contentType);
    expect(await metrics.text()).toContain('qt_fills_total{purpose="ENTRY"} 3');

    const live = await fetch(`${server.url}/livez`);
    expect([live.status, await live.text()]).toEqual([200, 'ok\n']);

    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    ready = true;
    const isReady = await fetch(`${server.url}/readyz?verbose=1`);
    expect([isReady.status, await isReady.text()]).toEqual([200, 'ready\n']);
  });

  it('answers HEAD without a body, other methods with 405, unknown paths with 404', async () => {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, meter: new PromMeter(), ready: () => true });
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${server.url}/`)).status).toBe(404);
  });

  it('answers 500 when collecting fails and 503 when ready() throws', async () => {
    const broken = { contentType: 'text/plain', metrics: () => Promise.reject(new Error('boom')) };
    server = await startMetricsServer({ port: 0, meter: broken, ready: () => { throw new Error('no'); } });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(500);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it('stops listening on close, and a taken port is a MetricsServerError', async () => {
    server = await startMetricsServer({ port: 0, meter: new PromMeter(), ready: () => true });
    const taken = (await startMetricsServer({ port: server.port, meter: new PromMeter(), ready: () => true }).catch((e: unknown) => e)) as MetricsServerError;
    expect(taken).toBeInstanceOf(MetricsServerError);
    expect(taken.code).toBe('EADDRINUSE');
    expect(taken.retriable).toBe(true);
    const url = server.url;
    await fetch(`${url}/livez`); // leaves a keep-alive connection open: close must still return
    await server.close();
    server = undefined;
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  });
});
