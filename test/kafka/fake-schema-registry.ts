/**
 * FakeSchemaRegistry: an in-process HTTP server answering the four Confluent schema registry endpoints that
 * @kafkajs/confluent-schema-registry calls for register and lookup:
 *
 *   GET  /config/{subject}            the subject's compatibility (404, error 40408, when none is set)
 *   PUT  /config/{subject}            sets it
 *   POST /subjects/{subject}/versions registers a schema: the id of an equal schema if there is one (ids are global,
 *                                     as in the registry), 409 if the subject's level is BACKWARD or
 *                                     BACKWARD_TRANSITIVE and the schema cannot read the previous (or every) version
 *   GET  /schemas/ids/{id}            the schema of an id (404, error 40403, when unknown)
 *
 * What it does not cover: the registry's canonical form (schemas are equal here when their JSON is), schema
 * references, other schema types, the FORWARD and FULL levels and the global config, subjects and versions listings,
 * deletion, authentication, Kafka-backed storage and leader election, and any timing of a real registry.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkCompatibility } from '../../schemas/compat.ts';

interface Subject {
  compatibility: string | undefined;
  readonly versions: number[];
}

/** An in-process fake of a Confluent schema registry (see the file comment for what it covers). */
export class FakeSchemaRegistry {
  /** Every request, as `METHOD path`. */
  readonly requests: string[] = [];
  /** The Authorization header of every request that had one. */
  readonly authorizations: string[] = [];
  readonly subjects = new Map<string, Subject>();
  private readonly schemas: string[] = [];
  private server: Server | undefined;

  /** Starts listening on 127.0.0.1 at a free port; resolves with the base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Stops listening (further requests are refused: the registry is away). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The id of a schema registered directly, as an earlier deployment would have (no compatibility check). */
  seed(subject: string, avro: unknown): number {
    const id = this.idOf(JSON.stringify(avro));
    const s = this.subject(subject);
    if (!s.versions.includes(id)) s.versions.push(id);
    return id;
  }

  private subject(name: string): Subject {
    let s = this.subjects.get(name);
    if (!s) this.subjects.set(name, (s = { compatibility: undefined, versions: [] }));
    return s;
  }

  private idOf(schema: string): number {
    const i = this.schemas.indexOf(schema);
    if (i >= 0) return i + 1;
    this.schemas.push(schema);
    return this.schemas.length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push(`${req.method} ${path}`);
    if (req.headers.authorization) this.authorizations.push(req.headers.authorization);
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(json));
    };
    let m: RegExpExecArray | null;
    if ((m = /^\/config\/(.+)$/.exec(path))) {
      const s = this.subjects.get(m[1]!);
      if (req.method === 'GET') {
        if (!s?.compatibility) return send(404, { error_code: 40408, message: `Subject '${m[1]}' does not have subject-level compatibility configured` });
        return send(200, { compatibilityLevel: s.compatibility });
      }
      if (req.method === 'PUT') {
        this.subject(m[1]!).compatibility = String(body['compatibility']);
        return send(200, { compatibility: body['compatibility'] });
      }
    }
    if ((m = /^\/subjects\/(.+)\/versions$/.exec(path)) && req.method === 'POST') {
      const schema = JSON.stringify(JSON.parse(String(body['schema'])));
      const s = this.subject(m[1]!);
      const existing = this.schemas.indexOf(schema) + 1;
      if (existing > 0 && s.versions.includes(existing)) return send(200, { id: existing });
      const level = s.compatibility ?? 'BACKWARD';
      const against = level === 'BACKWARD_TRANSITIVE' ? s.versions : level === 'BACKWARD' ? s.versions.slice(-1) : [];
      for (const v of against) {
        const r = checkCompatibility(JSON.parse(this.schemas[v - 1]!), JSON.parse(schema), 'backward');
        if (!r.ok) return send(409, { error_code: 409, message: `Schema being registered is incompatible with an earlier schema for subject "${m[1]}": ${r.problems.join('; ')}` });
      }
      const id = this.idOf(schema);
      s.versions.push(id);
      return send(200, { id });
    }
    if ((m = /^\/schemas\/ids\/([0-9]+)$/.exec(path)) && req.method === 'GET') {
      const schema = this.schemas[Number(m[1]) - 1];
      if (!schema) return send(404, { error_code: 40403, message: 'Schema not found' });
      return send(200, { schema });
    }
    send(404, { error_code: 404, message: `not faked: ${req.method} ${path}` });
  }
}
