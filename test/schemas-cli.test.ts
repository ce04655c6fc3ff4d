/**
 * `qt schemas check`: the history part against schemas/history (the repository's, and temporary ones with changed
 * schemas), the registry part against FakeSchemaRegistry, an in-process HTTP server answering the two endpoints the
 * check uses (GET /subjects/<s>/versions/latest, POST /compatibility/subjects/<s>/versions/latest) the way a Confluent
 * registry does, with its error codes, Basic auth, and a BACKWARD_TRANSITIVE verdict computed with avsc.
 * Not covered: a real registry's compatibility engine (the fake's verdict is avsc's resolver, the registry's is Java),
 * schema references, contexts, normalisation, per-subject compatibility levels, TLS and other auth schemes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AvroField, RecordSchema } from '../schemas/avro.ts';
import { checkCompatibility } from '../schemas/compat.ts';
import { TOPIC_CONFIGS } from '../schemas/topic-config.ts';
import { ALL_SCHEMAS, schemaOf } from '../schemas/topics.ts';
import { TradeSchema } from '../schemas/trade.ts';
import type { CliIo } from '../pipelines/cli/common.ts';
import { REGISTRY_ENV, SCHEMAS_EXIT, schemasCli, type SchemasCliDeps } from '../pipelines/cli/schemas.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'qt-schemas-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type RecordAvro = { type: 'record'; name: string; fields: AvroField[] };
const tradeAvro = (): RecordAvro => structuredClone(TradeSchema.avro) as RecordAvro;
const withTradeAvro = (avro: RecordAvro): RecordSchema<unknown> => ({ ...TradeSchema, avro }) as unknown as RecordSchema<unknown>;
/** Trade with a nullable field added: full-compatible with Trade. */
const tradePlusVenueSeq = (): RecordAvro => ({ ...tradeAvro(), fields: [...tradeAvro().fields, { name: 'venueSeq', type: ['null', 'long'], default: null }] });
/** Trade with its price as a string: incompatible both ways. */
const tradePriceAsString = (): RecordAvro => ({ ...tradeAvro(), fields: tradeAvro().fields.map((f) => (f.name === 'price' ? { ...f, type: 'string' } : f)) });

interface Version {
  readonly id: number;
  readonly schema: string;
  readonly schemaType?: string;
}

/** An in-process stand-in for a Confluent schema registry: the two read endpoints of `qt schemas check`. */
class FakeSchemaRegistry {
  readonly subjects = new Map<string, Version[]>();
  /** Requests as `<METHOD> <path>`. */
  readonly requests: string[] = [];
  readonly authHeaders: (string | undefined)[] = [];
  /** Subjects answering HTTP 500. */
  readonly broken = new Set<string>();
  /** When set, requests without this Basic user:password get 401. */
  credentials: string | undefined;
  private nextId = 1;
  private server: Server | undefined;
  url = '';

  register(subject: string, schema: unknown, schemaType?: string): this {
    const versions = this.subjects.get(subject) ?? [];
    versions.push({ id: this.nextId++, schema: JSON.stringify(schema), ...(schemaType ? { schemaType } : {}) });
    this.subjects.set(subject, versions);
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.requests.push(`${req.method} ${req.url}`);
      this.authHeaders.push(req.headers.authorization);
      if (this.credentials && req.headers.authorization !== `Basic ${Buffer.from(this.credentials).toString('base64')}`) {
        return this.reply(res, 401, { error_code: 40101, message: 'Unauthorized' });
      }
      const url = new URL(req.url ?? '/', 'http://x');
      const latest = /^\/subjects\/([^/]+)\/versions\/latest$/.exec(url.pathname);
      const compat = /^\/compatibility\/subjects\/([^/]+)\/versions\/latest$/.exec(url.pathname);
      const subject = decodeURIComponent((latest ?? compat)?.[1] ?? '');
      if (this.broken.has(subject)) return this.reply(res, 500, { error_code: 50001, message: 'Error in the backend data store' });
      const versions = this.subjects.get(subject);
      if ((latest && req.method === 'GET') || (compat && req.method === 'POST')) {
        if (!versions) return this.reply(res, 404, { error_code: 40401, message: `Subject '${subject}' not found.` });
      }
      if (latest && req.method === 'GET') {
        const v = versions!.at(-1)!;
        return this.reply(res, 200, { subject, version: versions!.length, id: v.id, schema: v.schema, ...(v.schemaType ? { schemaType: v.schemaType } : {}) });
      }
      if (compat && req.method === 'POST') {
        const candidate = JSON.parse((JSON.parse(body) as { schema: string }).schema) as unknown;
        // BACKWARD_TRANSITIVE: the new schema reads data of every registered version.
        const messages = versions!.flatMap((v, i) => checkCompatibility(JSON.parse(v.schema), candidate, 'backward').problems.map((p) => `v${i + 1}: ${p}`));
        return this.reply(res, 200, { is_compatible: messages.length === 0, ...(url.searchParams.get('verbose') === 'true' ? { messages } : {}) });
      }
      return this.reply(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' });
    });
  }
}

/** A registry holding every topic's current schema as v1. */
function registryOfCurrent(): FakeSchemaRegistry {
  const r = new FakeSchemaRegistry();
  for (const t of TOPIC_CONFIGS) r.register(`${t.name}-value`, schemaOf(t.name).avro);
  return r;
}

const registries: FakeSchemaRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.stop()));
});
async function started(r: FakeSchemaRegistry): Promise<FakeSchemaRegistry> {
  registries.push(r);
  return r.start();
}

async function qtSchemas(argv: string[], env: Record<string, string> = {}, deps: SchemasCliDeps = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WriteStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, wallNow: () => 0 };
  const code = await schemasCli(argv, io, deps);
  return { code, stdout, stderr };
}

/** A schemas/history under a temporary root holding the given versions of qt.md.Trade. */
function historyRoot(name: string, versions: readonly unknown[]): string {
  const root = join(tmp, name);
  const dir = join(root, 'schemas', 'history', 'qt.md.Trade');
  mkdirSync(dir, { recursive: true });
  versions.forEach((v, i) => writeFileSync(join(dir, `v${i + 1}.avsc.json`), JSON.stringify(v)));
  return root;
}

const failLines = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('  FAIL '));

describe('qt schemas check: history', () => {
  it('passes on the repository: every schema is recorded and keeps the rule', async () => {
    const r = await qtSchemas(['check']);
    expect(r.code).toBe(SCHEMAS_EXIT.ok);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('  ok   qt.md.Trade: unchanged (v1)\n');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  ok '))).toHaveLength(ALL_SCHEMAS.length);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('OK: every schema keeps the rule.');
  });

  it('fails on a compatible change that is not recorded yet, saying how to record it', async () => {
    const root = historyRoot('unrecorded', [tradeAvro()]);
    const r = await qtSchemas(['check'], {}, { root, schemas: [withTradeAvro(tradePlusVenueSeq())] });
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    expect(failLines(r.stdout)).toEqual(['  FAIL qt.md.Trade: changed since v1 (compatible) but not recorded; run npm run schemas:snapshot to record v2']);
  });

  it('lists every incompatibility, against the latest version (full) and older ones (backward)', async () => {
    // v1 lacks venueSeq, v2 has it; the current schema changes price to string: incompatible with both.
    const root = historyRoot('incompatible', [tradeAvro(), tradePlusVenueSeq()]);
    const current = { ...tradePriceAsString(), fields: [...tradePriceAsString().fields, { name: 'venueSeq', type: ['null', 'long'], default: null }] };
    const r = await qtSchemas(['check'], {}, { root, schemas: [withTradeAvro(current)] });
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    const fails = failLines(r.stdout);
    expect(fails.filter((l) => l.includes('INCOMPATIBLE with v1: backward'))).toHaveLength(1);
    expect(fails.filter((l) => l.includes('INCOMPATIBLE with v2: backward'))).toHaveLength(1);
    expect(fails.filter((l) => l.includes('INCOMPATIBLE with v2: forward'))).toHaveLength(1);
    expect(fails.at(-1)).toContain('but not recorded; run npm run schemas:snapshot to record v3, or bump the topic version');
    expect(r.stdout).toMatch(/\n4 problems:\n {2}- qt\.md\.Trade: INCOMPATIBLE with v1: backward/);
  });

  it('fails on a schema with no recorded version', async () => {
    const r = await qtSchemas(['check'], {}, { root: join(tmp, 'empty'), schemas: [TradeSchema as unknown as RecordSchema<unknown>] });
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    expect(failLines(r.stdout)).toEqual(['  FAIL qt.md.Trade: no recorded version; run npm run schemas:snapshot to record v1']);
  });
});

describe('qt schemas check: registry', () => {
  it('passes when every subject holds the current schema, asking each <topic>-value', async () => {
    const reg = await started(registryOfCurrent());
    const r = await qtSchemas(['check', '--registry', reg.url]);
    expect(r.code).toBe(SCHEMAS_EXIT.ok);
    expect(r.stdout).toContain(`registry ${reg.url}:\n`);
    expect(r.stdout).toContain('  ok   md.trades.v1-value: same as registered v1 (id 1)\n');
    expect(r.stdout).toContain('  ok   md.trades.v1.dlq-value: same as registered v1 (id ');
    expect(reg.requests.filter((q) => q.startsWith('GET /subjects/'))).toHaveLength(TOPIC_CONFIGS.length);
    expect(reg.requests).toContain('GET /subjects/md.bars.1m.v1-value/versions/latest');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('OK: every schema keeps the rule and agrees with the registry.');
  });

  it('accepts a subject not registered yet and a subject whose latest version is the current schema', async () => {
    const signalsV1 = JSON.parse(readFileSync(join(ROOT, 'schemas', 'history', 'qt.ens.EnsembleSignal', 'v1.avsc.json'), 'utf8')) as unknown;
    const reg = new FakeSchemaRegistry()
      .register('md.trades.v1-value', schemaOf('md.trades.v1').avro)
      .register('ens.signals.v1-value', signalsV1)
      .register('ens.signals.v1-value', schemaOf('ens.signals.v1').avro);
    await started(reg);
    const topics = TOPIC_CONFIGS.filter((t) => ['md.trades.v1', 'md.bars.1m.v1', 'ens.signals.v1'].includes(t.name));
    const r = await qtSchemas(['check', '--registry', reg.url], {}, { topics, schemas: [] });
    expect(r.code).toBe(SCHEMAS_EXIT.ok);
    expect(r.stdout).toContain('  ok   md.trades.v1-value: same as registered v1 (id 1)\n');
    expect(r.stdout).toContain('  ok   md.bars.1m.v1-value: not registered yet (the first producer registers it)\n');
    expect(r.stdout).toContain('  ok   ens.signals.v1-value: same as registered v2 (id 3)\n');
    // Nothing differs, so the registry's verdict is not asked for.
    expect(reg.requests.every((q) => q.startsWith('GET '))).toBe(true);
  });

  it('reports a compatible difference from the registered schema with both verdicts', async () => {
    const reg = new FakeSchemaRegistry().register('md.trades.v1-value', { ...tradeAvro(), fields: [...tradeAvro().fields, { name: 'venueSeq', type: ['null', 'long'], default: null }] });
    await started(reg);
    const topics = TOPIC_CONFIGS.filter((t) => t.name === 'md.trades.v1');
    const r = await qtSchemas(['check', '--registry', reg.url], {}, { topics, schemas: [] });
    expect(r.code).toBe(SCHEMAS_EXIT.ok);
    expect(r.stdout).toContain('  ok   md.trades.v1-value: differs from registered v1 (id 1), compatible (full; registry: compatible)');
    expect(reg.requests).toEqual(['GET /subjects/md.trades.v1-value/versions/latest', 'POST /compatibility/subjects/md.trades.v1-value/versions/latest?verbose=true']);
  });

  it('lists every incompatible subject, by the project\'s rule and by the registry, and exits 1', async () => {
    const reg = registryOfCurrent();
    reg.register('md.trades.v1-value', tradePriceAsString());
    const fills = structuredClone(schemaOf('exec.fills.v1').avro) as RecordAvro;
    fills.fields.push({ name: 'legacyRequired', type: 'string' });
    reg.register('exec.fills.v1-value', fills);
    await started(reg);
    const r = await qtSchemas(['check', '--registry', reg.url]);
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    const fails = failLines(r.stdout);
    expect(fails.filter((l) => l.startsWith('  FAIL md.trades.v1-value: INCOMPATIBLE with registered v2'))).toHaveLength(2);
    expect(fails).toContainEqual(expect.stringMatching(/^ {2}FAIL md\.trades\.v1-value: the registry refuses it against v2 \(id \d+\): v2: backward: /));
    // A field the registered schema requires and the current one dropped: old readers cannot read new data (forward).
    expect(fails).toContainEqual(expect.stringMatching(/^ {2}FAIL exec\.fills\.v1-value: INCOMPATIBLE with registered v2 \(id \d+\): forward: .*legacyRequired/));
    expect(r.stdout).toMatch(new RegExp(`\\n${fails.length} problems:\\n`));
  });

  it('reports a failing subject and goes on with the others', async () => {
    const reg = registryOfCurrent();
    reg.broken.add('risk.orders.v1-value');
    reg.register('pos.equity.v1-value', { type: 'record', name: 'x', fields: [] }, 'PROTOBUF');
    await started(reg);
    const r = await qtSchemas(['check', '--registry', reg.url]);
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    expect(failLines(r.stdout)).toEqual([
      '  FAIL risk.orders.v1-value: GET /subjects/risk.orders.v1-value/versions/latest: HTTP 500 (50001): Error in the backend data store',
      expect.stringMatching(/^ {2}FAIL pos\.equity\.v1-value: registered v2 \(id \d+\) is PROTOBUF, not AVRO$/),
    ]);
    expect(reg.requests.filter((q) => q.startsWith('GET '))).toHaveLength(TOPIC_CONFIGS.length);
  });

  it('stops at an unreachable registry with one problem', async () => {
    const reg = await started(new FakeSchemaRegistry());
    const url = reg.url;
    await reg.stop();
    registries.pop();
    const r = await qtSchemas(['check', '--registry', url]);
    expect(r.code).toBe(SCHEMAS_EXIT.problems);
    const fails = failLines(r.stdout);
    expect(fails).toHaveLength(1);
    expect(fails[0]).toMatch(new RegExp(`^ {2}FAIL md\\.trades\\.v1-value: cannot reach the schema registry at ${url.replace(/\./g, '\\.')}: .*ECONNREFUSED`));
  });

  it('sends credentials from the URL as Basic auth and never prints them; reads the URL from the environment', async () => {
    const reg = registryOfCurrent();
    reg.credentials = 'qt-user:s3cr3t/pw';
    await started(reg);
    const withCreds = reg.url.replace('http://', 'http://qt-user:s3cr3t%2Fpw@');
    const r = await qtSchemas(['check'], { [REGISTRY_ENV]: withCreds }, { topics: TOPIC_CONFIGS.slice(0, 2), schemas: [] });
    expect(r.code).toBe(SCHEMAS_EXIT.ok);
    expect(reg.authHeaders.every((h) => h === `Basic ${Buffer.from('qt-user:s3cr3t/pw').toString('base64')}`)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    expect(r.stdout).toContain(`registry ${reg.url}:`);
    const wrong = await qtSchemas(['check', '--registry', reg.url.replace('http://', 'http://qt-user:wrong@')], {}, { topics: TOPIC_CONFIGS.slice(0, 1), schemas: [] });
    expect(wrong.code).toBe(SCHEMAS_EXIT.problems);
    expect(wrong.stdout).toContain('HTTP 401 (40101): Unauthorized');
    expect(wrong.stdout).not.toContain('wrong@');
  });
});

describe('qt schemas usage', () => {
  it('lists every problem of a bad command line and exits 2', async () => {
    const r = await qtSchemas(['verify', 'x', '--bogus', '--registry', 'ftp://host']);
    expect(r.code).toBe(SCHEMAS_EXIT.usage);
    for (const p of ['--bogus: unknown flag', 'unknown subcommand verify', 'unexpected arguments: x', 'schema registry URL must be http(s)']) expect(r.stderr).toContain(p);
  });

  it('runs through bin/qt.mjs and is listed in qt help', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'qt.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run(['help']).stdout).toContain('qt schemas check');
    const r = run(['schemas', 'check']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('OK: every schema keeps the rule.');
  });
});
