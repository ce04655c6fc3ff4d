/**
 * The deployment files of deploy/ (compose.yaml, prometheus/, grafana/) against the code they deploy. They cannot run
 * here (no container runtime), so this checks what can be checked without one:
 * - compose: one service per stage of pipelines/stages.ts running `qt pipeline <stage>` with its metrics port, a
 *   /readyz healthcheck on it, QT_* settings the config knows, depends_on with conditions; Kafka in KRaft mode with as
 *   many nodes as deploy/kafka's replication factor; the topics and schemas jobs; ClickHouse with deploy/clickhouse
 *   as init scripts; every host port on 127.0.0.1;
 * - Prometheus: a scrape target per stage and port, `promtool check config`, `promtool check rules` and the alert
 *   unit tests (`promtool test rules`); metric and label names in rules and dashboards exist in schemas/metrics.ts;
 * - Grafana: datasources the dashboards use are provisioned; PromQL of the dashboards passes promtool; every ClickHouse
 *   query of the dashboards runs on the embedded journal (chdb) with the DDL of deploy/clickhouse applied.
 * Needs promtool (Debian package prometheus) and PyYAML (python3-yaml) for /usr/bin/python3: fails, never skips,
 * without them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envVarNames } from '../pipelines/config.ts';
import { BOOTSTRAP_ENV } from '../pipelines/cli/topics.ts';
import { REGISTRY_ENV } from '../pipelines/cli/schemas.ts';
import { STAGES } from '../pipelines/stages.ts';
import { METRICS } from '../schemas/metrics.ts';
import { TOPIC_CONFIGS, TOPIC_LIST } from '../schemas/topic-config.ts';
import type { Journal } from '../schemas/ports.ts';
import { loadDdl } from '../sinks/journal/ddl.ts';
import { openJournal } from '../sinks/journal/open.ts';

const ROOT = join(import.meta.dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
const PYTHON = '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 'qt-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Parses a YAML file with PyYAML (YAML 1.1 with merge keys, as Compose reads it). */
function loadYaml(path: string): any {
  const r = spawnSync(PYTHON, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', path], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`cannot parse ${path} with ${PYTHON} and PyYAML (apt-get install python3-yaml): ${r.error?.message ?? r.stderr}`);
  }
  return JSON.parse(r.stdout);
}

/** Runs promtool; fails with the package to install when it is missing. */
function promtool(args: string[], cwd = ROOT): { status: number; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed for this test (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Labels every scraped series carries besides its own: the target's and Prometheus's. */
const TARGET_LABELS = new Set(['job', 'instance', 'stage', 'optional', 'le', 'alertname']);
const METRIC_DEFS = new Map<string, { labelNames: readonly string[] }>(Object.values(METRICS).map((m) => [m.name, m]));

/** The project metric a series name belongs to (histograms expose _bucket, _sum and _count). */
function metricOf(series: string): string {
  if (METRIC_DEFS.has(series)) return series;
  return series.replace(/_(bucket|sum|count)$/, '');
}

/** Problems with the metric and label names of a PromQL expression. */
function promqlProblems(expr: string): string[] {
  const problems: string[] = [];
  const labels = new Set(TARGET_LABELS);
  for (const m of expr.matchAll(/\b(qt_[a-z0-9_]+)/g)) {
    const def = METRIC_DEFS.get(metricOf(m[1]!));
    if (!def) problems.push(`${m[1]} is not in schemas/metrics.ts`);
    else for (const l of def.labelNames) labels.add(l);
  }
  for (const m of expr.matchAll(/\b(qt_[a-z0-9_]+|up)\{([^}]*)\}/g)) {
    for (const sel of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)/g)) {
      if (!labels.has(sel[1]!)) problems.push(`${m[1]} has no label ${sel[1]}`);
    }
  }
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '')) if (!labels.has(l)) problems.push(`no metric of "${expr}" has label ${l}`);
  }
  return problems;
}

const compose = loadYaml(join(DEPLOY, 'compose.yaml'));
const services: Record<string, any> = compose.services;
const prometheus = loadYaml(join(DEPLOY, 'prometheus', 'prometheus.yml'));
const rules = loadYaml(join(DEPLOY, 'prometheus', 'rules', 'qt.yml'));
const datasources = loadYaml(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'datasources.yaml'));
const providers = loadYaml(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml'));
const DASHBOARD_DIR = join(DEPLOY, 'grafana', 'dashboards');
const dashboards = readdirSync(DASHBOARD_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DASHBOARD_DIR, f), 'utf8')) }));
const kafkaServices = Object.entries(services).filter(([, s]) => String(s.image ?? '').startsWith('apache/kafka:'));

/** Every query target of every dashboard panel (rows included), with the datasource it goes to. */
function dashboardTargets(): { panel: string; ds: { type: string; uid: string }; target: any }[] {
  const out: { panel: string; ds: { type: string; uid: string }; target: any }[] = [];
  const walk = (panels: any[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, ds: t.datasource ?? p.datasource, target: t });
      walk(p.panels ?? []);
    }
  };
  for (const d of dashboards) walk(d.json.panels);
  return out;
}

describe('deploy/compose.yaml', () => {
  it('runs one service per stage of pipelines/stages.ts with `qt pipeline <stage>`', () => {
    const stageServices = Object.entries(services).filter(([, s]) => Array.isArray(s.command) && s.command[0] === 'pipeline');
    expect(stageServices.map(([name]) => name).sort()).toEqual(STAGES.map((s) => s.name).sort());
    for (const s of STAGES) expect(services[s.name].command, s.name).toEqual(['pipeline', s.name]);
  });

  it('gives each stage its metrics port, beyond loopback in its container, and a /readyz healthcheck on it', () => {
    for (const s of STAGES) {
      const svc = services[s.name];
      expect(Number(svc.environment.QT_METRICS_PORT), s.name).toBe(s.metricsPort);
      expect(svc.environment.QT_METRICS_HOST, s.name).toBe('0.0.0.0');
      const test = (svc.healthcheck.test as string[]).join(' ');
      expect(test, s.name).toContain(`http://127.0.0.1:${s.metricsPort}/readyz`);
      expect(svc.healthcheck.start_period, s.name).toBeDefined();
      // Crash-only: a stage that exits on an unrecoverable error is restarted; SIGTERM gets time to drain.
      expect(svc.restart, s.name).toBe('on-failure');
      expect(svc.stop_grace_period, s.name).toBeDefined();
    }
  });

  it('starts the stages after the topics and schemas jobs succeeded and the registry is healthy (the journal after ClickHouse)', () => {
    for (const s of STAGES) {
      const deps = services[s.name].depends_on;
      expect(deps.topics, s.name).toEqual({ condition: 'service_completed_successfully' });
      expect(deps.schemas, s.name).toEqual({ condition: 'service_completed_successfully' });
      expect(deps['schema-registry'], s.name).toEqual({ condition: 'service_healthy' });
    }
    expect(services.journal.depends_on.clickhouse).toEqual({ condition: 'service_healthy' });
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect((cond as { condition?: string }).condition, `${name} -> ${dep}`).toMatch(/^service_(healthy|completed_successfully)$/);
        if ((cond as { condition: string }).condition === 'service_healthy') expect(services[dep].healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
  });

  it('puts optional stages behind a profile and the others in the default start', () => {
    for (const s of STAGES) {
      if (s.optional) expect(services[s.name].profiles, s.name).toEqual([s.name]);
      else expect(services[s.name].profiles, s.name).toBeUndefined();
    }
    expect(services.learning.environment.QT_LEARNING_ENABLED).toBe('true');
  });

  it('sets only QT_* variables the config schema knows (or the Kafka ones the CLI reads until the config has them)', () => {
    const known = new Set([...envVarNames().keys(), BOOTSTRAP_ENV, REGISTRY_ENV]);
    for (const [name, svc] of Object.entries(services)) {
      for (const k of Object.keys(svc.environment ?? {}).filter((x) => x.startsWith('QT_'))) {
        if (name === 'grafana') continue; // the datasource password, read by Grafana's provisioning
        expect(known.has(k), `${name}: ${k}`).toBe(true);
      }
    }
  });

  it('runs Kafka in KRaft mode on as many nodes as deploy/kafka replicates to', () => {
    expect(kafkaServices.length).toBeGreaterThanOrEqual(TOPIC_LIST.replicationFactor);
    const voters = new Set<string>();
    const ids = new Set<number>();
    const clusterIds = new Set<string>();
    for (const [name, svc] of kafkaServices) {
      const env = svc.environment;
      expect(env.KAFKA_PROCESS_ROLES, name).toMatch(/controller/);
      expect(JSON.stringify(env), name).not.toMatch(/ZOOKEEPER/i);
      expect(String(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE), name).toBe('false');
      expect(Number(env.KAFKA_MIN_INSYNC_REPLICAS), name).toBe(TOPIC_LIST.minInsyncReplicas);
      expect(Number(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR), name).toBeLessThanOrEqual(kafkaServices.length);
      ids.add(Number(env.KAFKA_NODE_ID));
      voters.add(env.KAFKA_CONTROLLER_QUORUM_VOTERS);
      clusterIds.add(env.CLUSTER_ID);
      expect(env.KAFKA_ADVERTISED_LISTENERS, name).toContain(`PLAINTEXT://${name}:9092`);
      expect(svc.healthcheck, name).toBeDefined();
    }
    expect(ids.size).toBe(kafkaServices.length);
    expect(voters.size).toBe(1);
    expect([...voters][0]!.split(',').sort()).toEqual(kafkaServices.map(([name, svc]) => `${svc.environment.KAFKA_NODE_ID}@${name}:9093`).sort());
    expect(clusterIds.size).toBe(1);
    // A KRaft cluster id is 16 bytes in base64url without padding.
    expect(Buffer.from([...clusterIds][0]!, 'base64url')).toHaveLength(16);
  });

  it('points every Kafka client at every node', () => {
    const bootstrap = kafkaServices.map(([name]) => `${name}:9092`).join(',');
    expect(services.topics.environment[BOOTSTRAP_ENV]).toBe(bootstrap);
    for (const s of STAGES) expect(services[s.name].environment[BOOTSTRAP_ENV], s.name).toBe(bootstrap);
    expect(services['schema-registry'].environment.SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS).toBe(kafkaServices.map(([n]) => `PLAINTEXT://${n}:9092`).join(','));
    expect(services['schema-registry'].environment.SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL).toBe('backward_transitive');
  });

  it('applies deploy/kafka with a one-shot `qt topics apply` after every Kafka node is healthy, and checks schemas against the registry', () => {
    expect(services.topics.command).toEqual(['topics', 'apply']);
    expect(services.topics.restart).toBe('no');
    expect(Object.keys(services.topics.depends_on).sort()).toEqual(kafkaServices.map(([n]) => n).sort());
    expect(services.schemas.command).toEqual(['schemas', 'check']);
    expect(services.schemas.environment[REGISTRY_ENV]).toBe('http://schema-registry:8081');
    // The jobs read deploy/kafka/topics.json and schemas/history from the image: the build copies them.
    const dockerfile: string = services.topics.build.dockerfile_inline;
    for (const dir of ['deploy', 'schemas', 'pipelines', 'bin']) expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
  });

  it('names only topics of deploy/kafka, here and in the Prometheus and Grafana files', () => {
    const topicTokens = (text: string): string[] => [...text.matchAll(/\b[a-z]+\.[a-z0-9]+(?:\.[a-z0-9]+)?\.v[0-9]+(?:\.dlq)?\b/g)].map((m) => m[0]);
    expect(topicTokens('x md.trades.v2 and md.bars.1m.v1.dlq y')).toEqual(['md.trades.v2', 'md.bars.1m.v1.dlq']);
    const known = new Set<string>(TOPIC_CONFIGS.map((t) => t.name));
    const files = [join(DEPLOY, 'compose.yaml'), join(DEPLOY, 'prometheus', 'prometheus.yml'), join(DEPLOY, 'prometheus', 'rules', 'qt.yml'), ...dashboards.map((d) => join(DASHBOARD_DIR, d.file))];
    for (const f of files) for (const t of topicTokens(readFileSync(f, 'utf8'))) expect(known.has(t), `${f}: ${t}`).toBe(true);
  });

  it('starts ClickHouse with deploy/clickhouse as init scripts and is healthy only once the last table exists', () => {
    const ch = services.clickhouse;
    const init = (ch.volumes as string[]).find((v) => v.endsWith(':/docker-entrypoint-initdb.d:ro'));
    expect(init).toBeDefined();
    expect(resolve(DEPLOY, init!.split(':')[0]!)).toBe(join(DEPLOY, 'clickhouse'));
    const creates = loadDdl().flatMap((s) => [...s.sql.matchAll(/CREATE TABLE IF NOT EXISTS (qt\.[a-z_]+)/g)].map((m) => m[1]!));
    expect((ch.healthcheck.test as string[]).join(' ')).toContain(`EXISTS TABLE ${creates.at(-1)}`);
    expect(services.journal.environment.QT_JOURNAL_URL).toMatch(/^http:\/\/[^@]+@clickhouse:8123$/);
  });

  it('mounts the Prometheus and Grafana files where they are read, and publishes host ports on 127.0.0.1 only', () => {
    expect(services.prometheus.volumes).toContain('./prometheus:/etc/prometheus:ro');
    expect(services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(services.grafana.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(services.grafana.volumes).toContain(`./grafana/dashboards:${providers.providers[0].options.path}:ro`);
    const chType = datasources.datasources.find((d: { uid: string }) => d.uid === 'clickhouse').type;
    expect(services.grafana.environment.GF_PLUGINS_PREINSTALL).toContain(chType);
    for (const [name, svc] of Object.entries(services)) for (const p of svc.ports ?? []) expect(String(p), name).toMatch(/^127\.0\.0\.1:/);
  });
});

describe('deploy/prometheus', () => {
  it('scrapes every stage at <stage>:<metrics port> with its stage label', () => {
    const job = prometheus.scrape_configs.find((j: { job_name: string }) => j.job_name === 'qt');
    // A metric's own stage label (e.g. the stage that dead-lettered a message) must survive the target's.
    expect(job.honor_labels).toBe(true);
    const targets = job.static_configs.map((c: { targets: string[]; labels: Record<string, string> }) => ({ target: c.targets.join(','), labels: c.labels }));
    expect(targets).toEqual(
      STAGES.map((s) => ({ target: `${s.name}:${s.metricsPort}`, labels: s.optional ? { stage: s.name, optional: 'true' } : { stage: s.name } })),
    );
  });

  it('passes promtool check config (which also checks the rule files it loads)', () => {
    const r = promtool(['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Checking .*rules\/qt\.yml/);
  });

  it('alerts on a stage down, rising dead letters, a raised supervisor check and drawdown', () => {
    const names = rules.groups.flatMap((g: { rules: { alert: string }[] }) => g.rules.map((r) => r.alert));
    for (const a of ['QtStageDown', 'QtDeadLettersRising', 'QtSupervisorCheckRaised', 'QtDrawdownNearDailyHalt', 'QtTradingHalted']) expect(names).toContain(a);
    expect(promtool(['check', 'rules', join(DEPLOY, 'prometheus', 'rules', 'qt.yml')]).status).toBe(0);
  });

  it('fires the alerts it should in promtool\'s rule unit tests', () => {
    const r = promtool(['test', 'rules', join(DEPLOY, 'prometheus', 'tests', 'qt.test.yml')]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status, r.out).toBe(0);
  });

  it('uses only metrics and labels of schemas/metrics.ts in its rules', () => {
    const exprs: string[] = rules.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) expect(promqlProblems(e), e).toEqual([]);
  });

  it('would catch a metric or label that does not exist', () => {
    expect(promqlProblems('rate(qt_messages_in_totl[5m])')).toEqual(['qt_messages_in_totl is not in schemas/metrics.ts']);
    expect(promqlProblems('qt_drawdown_ratio{windw="day"}')).toEqual(['qt_drawdown_ratio has no label windw']);
    expect(promqlProblems('sum by (symbol) (qt_fills_total)')).toEqual(['no metric of "sum by (symbol) (qt_fills_total)" has label symbol']);
    expect(promqlProblems('histogram_quantile(0.9, sum by (le, member) (rate(qt_inference_duration_seconds_bucket[5m])))')).toEqual([]);
  });
});

describe('deploy/grafana', () => {
  const targets = dashboardTargets();

  it('provisions the datasources the dashboards use, with the plugin types they expect', () => {
    const byUid = new Map(datasources.datasources.map((d: { uid: string; type: string }) => [d.uid, d.type]));
    expect(targets.length).toBeGreaterThan(10);
    for (const t of targets) expect(byUid.get(t.ds.uid), `${t.panel}: ${t.ds.uid}`).toBe(t.ds.type);
    const ch = datasources.datasources.find((d: { uid: string }) => d.uid === 'clickhouse');
    expect(ch.jsonData).toMatchObject({ host: 'clickhouse', defaultDatabase: 'qt' });
    // The password comes from the environment, never from the file.
    expect(ch.secureJsonData.password).toBe('$QT_CLICKHOUSE_PASSWORD');
    expect(datasources.datasources.find((d: { uid: string }) => d.uid === 'prometheus').url).toBe('http://prometheus:9090');
  });

  it('lays out unique panels within the 24-column grid', () => {
    for (const d of dashboards) {
      const ids = d.json.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size, d.file).toBe(ids.length);
      for (const p of d.json.panels) expect(p.gridPos.x + p.gridPos.w, `${d.file}: ${p.title}`).toBeLessThanOrEqual(24);
      expect(d.json.uid, d.file).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it('queries Prometheus only for metrics and labels of schemas/metrics.ts, in PromQL promtool accepts', () => {
    const prom = targets.filter((t) => t.ds.type === 'prometheus');
    expect(prom.length).toBeGreaterThan(0);
    for (const t of prom) expect(promqlProblems(t.target.expr), `${t.panel}: ${t.target.expr}`).toEqual([]);
    // Each expression as a recording rule, Grafana's interval variables replaced, through promtool's parser.
    const file = join(tmp, 'dashboard-promql.yml');
    const rulesYaml = prom
      .map((t, i) => `      - record: qt_dashboard_check_${i}\n        expr: ${JSON.stringify(t.target.expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m'))}`)
      .join('\n');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rulesYaml}\n`);
    const r = promtool(['check', 'rules', file]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${prom.length} rules found`);
  });

  describe('ClickHouse queries on the journal', () => {
    const chTargets = targets.filter((t) => t.ds.type === 'grafana-clickhouse-datasource');
    let journal: Journal | undefined;
    beforeAll(async () => {
      journal = await openJournal({ path: join(tmp, 'journal'), batchRows: 100 });
    });
    afterAll(async () => {
      await journal?.close();
    });

    it('reads only tables of deploy/clickhouse', () => {
      const tables = new Set(loadDdl().flatMap((s) => [...s.sql.matchAll(/CREATE TABLE IF NOT EXISTS (qt\.[a-z_]+)/g)].map((m) => m[1]!)));
      expect(chTargets.length).toBeGreaterThan(5);
      for (const t of chTargets) {
        const used = [...(t.target.rawSql as string).matchAll(/\bFROM\s+([a-z_]+\.[a-z_]+)/gi)].map((m) => m[1]!);
        expect(used.length, t.panel).toBeGreaterThan(0);
        for (const table of used) expect(tables.has(table), `${t.panel}: ${table}`).toBe(true);
      }
    });

    it('runs every query (macros replaced) on the embedded journal with the DDL applied', async () => {
      for (const t of chTargets) {
        const sql = (t.target.rawSql as string)
          .replace(/\$__timeFilter\(([a-z_]+)\)/g, "$1 >= toDateTime64('2020-01-01 00:00:00', 3, 'UTC') AND $1 < toDateTime64('2100-01-01 00:00:00', 3, 'UTC')")
          .replace(/\$__timeInterval\(([a-z_]+)\)/g, 'toStartOfInterval($1, INTERVAL 60 second)');
        expect(sql, `${t.panel}: a Grafana macro this test does not know`).not.toContain('$');
        await expect(journal!.query(sql), `${t.panel}: ${sql}`).resolves.toEqual([]);
      }
    });
  });
});

describe('test prerequisites', () => {
  it('has promtool and PyYAML (CI installs the Debian packages prometheus and python3-yaml)', () => {
    expect(existsSync(PYTHON)).toBe(true);
    expect(promtool(['--version']).status).toBe(0);
  });
});
