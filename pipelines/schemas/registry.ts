/**
 * A read-only client of a Confluent schema registry's REST API, over plain fetch: the latest version of a subject and
 * the registry's own compatibility verdict for a schema. Enough for `qt schemas check`; producing and consuming use
 * the registry client of the Kafka adapter.
 */

/** A schema version as the registry holds it. */
export interface RegisteredSchema {
  readonly subject: string;
  readonly version: number;
  /** Global schema id (the one in the wire format). */
  readonly id: number;
  /** AVRO, PROTOBUF or JSON (the registry leaves it out for AVRO). */
  readonly schemaType: string;
  /** The schema text as registered. */
  readonly schema: string;
}

/** The registry's verdict on a schema against a subject under the subject's compatibility level. */
export interface RegistryVerdict {
  readonly compatible: boolean;
  /** Why not, when the registry says (verbose mode). */
  readonly messages: readonly string[];
}

/** A registry request failed: unreachable or 5xx (retriable), or an answer this client cannot use. */
export class SchemaRegistryError extends Error {
  override readonly name = 'SchemaRegistryError';
  constructor(
    message: string,
    readonly retriable: boolean,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
    /** The registry's error_code, e.g. 40401 subject not found. */
    readonly errorCode?: number,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** Options of the registry client. */
export interface SchemaRegistryOptions {
  /** Per-request timeout, ms (default 10 s). */
  readonly timeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** The registry URL with any user and password removed, for messages (secrets never reach a log). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Read-only Confluent schema registry client. Credentials in the URL (https://user:pass@host) become Basic auth. */
export class HttpSchemaRegistry {
  /** The base URL without credentials. */
  readonly url: string;
  private readonly auth: string | undefined;
  private readonly timeoutMs: number;

  constructor(url: string, opts: SchemaRegistryOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (e) {
      throw new SchemaRegistryError(`schema registry URL is not a URL: ${redactUrl(url)}`, false, undefined, undefined, { cause: e });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SchemaRegistryError(`schema registry URL must be http(s): ${redactUrl(url)}`, false);
    // fetch refuses URLs with credentials: move them into the header.
    this.auth = u.username || u.password ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : undefined;
    u.username = '';
    u.password = '';
    this.url = u.toString().replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { Accept: CONTENT_TYPE };
    if (this.auth) headers.Authorization = this.auth;
    if (body !== undefined) headers['Content-Type'] = CONTENT_TYPE;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw new SchemaRegistryError(`cannot reach the schema registry at ${this.url}: ${why}`, true, undefined, undefined, { cause: e });
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      if (res.ok) throw new SchemaRegistryError(`${method} ${path}: the registry answered ${res.status} with something that is not JSON`, false, res.status);
    }
    return { status: res.status, json };
  }

  private failure(method: string, path: string, status: number, json: Record<string, unknown>): SchemaRegistryError {
    const code = typeof json.error_code === 'number' ? json.error_code : undefined;
    const msg = typeof json.message === 'string' ? json.message : '';
    return new SchemaRegistryError(`${method} ${path}: HTTP ${status}${code ? ` (${code})` : ''}${msg ? `: ${msg}` : ''}`, status >= 500 || status === 429, status, code);
  }

  /** The latest version of a subject; null when the subject has none (error 40401/40402). */
  async latest(subject: string): Promise<RegisteredSchema | null> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions/latest`;
    const { status, json } = await this.request('GET', path);
    if (status === 404 && (json.error_code === 40401 || json.error_code === 40402)) return null;
    if (status !== 200) throw this.failure('GET', path, status, json);
    if (typeof json.schema !== 'string' || typeof json.version !== 'number' || typeof json.id !== 'number') {
      throw new SchemaRegistryError(`GET ${path}: the answer lacks schema, version or id`, false, status);
    }
    return { subject, version: json.version, id: json.id, schemaType: typeof json.schemaType === 'string' ? json.schemaType : 'AVRO', schema: json.schema };
  }

  /** The registry's verdict on an Avro schema against the latest version of a subject; null when the subject has none. */
  async testCompatibility(subject: string, avroSchema: unknown): Promise<RegistryVerdict | null> {
    const path = `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`;
    const { status, json } = await this.request('POST', path, { schema: JSON.stringify(avroSchema) });
    if (status === 404 && (json.error_code === 40401 || json.error_code === 40402)) return null;
    if (status !== 200) throw this.failure('POST', path, status, json);
    if (typeof json.is_compatible !== 'boolean') throw new SchemaRegistryError(`POST ${path}: the answer lacks is_compatible`, false, status);
    const messages = Array.isArray(json.messages) ? json.messages.map(String) : [];
    return { compatible: json.is_compatible, messages };
  }
}
