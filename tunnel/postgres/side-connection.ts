import { parse, serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import type { UpstreamConfig } from './connection-string.ts';
import type { FieldDescription } from './wire/results.ts';
import { connectUpstream, type UpstreamConnection } from './upstream.ts';
import type { UpstreamCredentials } from './upstream-credentials.ts';

interface Pending {
  rows: (string | null)[][];
  fields: FieldDescription[] | null;
  error?: Error;
  resolve(result: { rows: (string | null)[][]; fields: FieldDescription[] | null }): void;
  reject(error: Error): void;
}

/**
 * A connection of the tunnel's own to the upstream, beside the client's: it reads the catalog (to
 * name the columns a result comes from) and describes statements without running them. Requests run
 * one at a time, in order.
 */
export class SideConnection {
  private readonly queue: Pending[] = [];
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  private constructor(private readonly upstream: UpstreamConnection) {
    upstream.socket.on('error', () => this.failAll(new Error('side connection failed')));
    upstream.socket.on('close', () => this.failAll(new Error('side connection closed')));
    void parse(upstream.socket, (message) => this.onMessage(message));
    upstream.socket.resume();
  }

  static async open(
    config: UpstreamConfig,
    credentials?: UpstreamCredentials,
    applicationName = DEFAULT_APPLICATION_NAME,
  ): Promise<SideConnection> {
    // Its own name beats any the operator's connection string gives the clients' connections.
    return new SideConnection(await connectUpstream({ ...config, applicationName }, {}, credentials));
  }

  /** A request is queued or under way. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Runs one statement with text parameters; rows come back as text. */
  async query(sql: string, parameters: (string | null)[] = []): Promise<(string | null)[][]> {
    const { rows } = await this.request(
      Buffer.concat([
        serialize.parse({ text: sql }),
        serialize.bind({ values: parameters }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    return rows;
  }

  /** The result shape a statement would have, without running it; null when it returns no rows. */
  async describe(sql: string, parameterTypes: readonly number[] = []): Promise<FieldDescription[] | null> {
    const { fields } = await this.request(
      Buffer.concat([
        serialize.parse({ text: sql, types: [...parameterTypes] }),
        serialize.describe({ type: 'S' }),
        serialize.sync(),
      ]),
    );
    return fields;
  }

  close(): void {
    this.closed = true;
    this.upstream.socket.end(serialize.end());
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private request(bytes: Buffer): Promise<{ rows: (string | null)[][]; fields: FieldDescription[] | null }> {
    if (this.closed) return Promise.reject(new Error('side connection closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ rows: [], fields: null, resolve, reject });
      this.upstream.socket.write(bytes);
    });
  }

  private onMessage(message: BackendMessage): void {
    const current = this.queue[0];
    if (!current) return;
    switch (message.name) {
      case 'rowDescription': {
        const description = message as unknown as {
          fields: {
            name: string;
            tableID: number;
            columnID: number;
            dataTypeID: number;
            dataTypeSize: number;
            dataTypeModifier: number;
            format: string;
          }[];
        };
        current.fields = description.fields.map((f) => ({
          name: f.name,
          tableOid: f.tableID,
          columnNumber: f.columnID,
          typeOid: f.dataTypeID,
          typeSize: f.dataTypeSize,
          typeModifier: f.dataTypeModifier,
          format: f.format === 'binary' ? 1 : 0,
        }));
        return;
      }
      case 'dataRow':
        current.rows.push((message as unknown as { fields: (string | null)[] }).fields);
        return;
      case 'error':
        current.error = message as unknown as Error;
        return;
      case 'readyForQuery':
        this.queue.shift();
        if (current.error) current.reject(current.error);
        else current.resolve({ rows: current.rows, fields: current.fields });
        return;
      default:
        return;
    }
  }

  private failAll(error: Error): void {
    if (!this.closed) this.closeListeners.splice(0).forEach((listener) => listener());
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }
}

/** How the tunnel's catalog connection shows in pg_stat_activity when its owner names it no better. */
export const DEFAULT_APPLICATION_NAME = 'portcullis catalog reader';

/** How long the catalog connection stays open with no client connected and no request. */
export const DEFAULT_CATALOG_IDLE_MS = 10_000;

export interface SharedSideConnectionOptions {
  /** Its application_name (at most 63 bytes reach the server), so a DBA can tell whose it is. */
  applicationName?: string;
  /** Closed after this long without a request once `inUse` says no client needs it. */
  idleMs?: number;
  /**
   * Whether a client is connected: the connection then stays open however idle, so that a client's
   * next statement does not wait for (or, with the hub out of reach, fail on) opening it again.
   */
  inUse?: () => boolean;
}

export interface SharedSideConnection {
  get(): Promise<SideConnection>;
  close(): void;
}

/**
 * One side connection shared by every session of a tunnel, opened on first use and opened again after
 * it fails. It does not linger: with no client connected and no request for `idleMs` it is closed,
 * so an idle tunnel holds no server slot and does not keep `DROP DATABASE` from running.
 */
export function sharedSideConnection(
  config: UpstreamConfig,
  /** Asked for each connection opened (the first, and each after a failure or an idle close). */
  credentials?: () => UpstreamCredentials,
  options: SharedSideConnectionOptions = {},
): SharedSideConnection {
  const idleMs = options.idleMs ?? DEFAULT_CATALOG_IDLE_MS;
  let current: Promise<SideConnection> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;

  const closeCurrent = (): void => {
    clearTimeout(idleTimer);
    void current?.then(
      (side) => side.close(),
      () => {},
    );
    current = undefined;
  };
  const closeIfIdle = (opened: Promise<SideConnection>, side: SideConnection): void => {
    if (current !== opened) return;
    if (side.busy || options.inUse?.()) armIdleTimer(opened);
    else closeCurrent();
  };
  const armIdleTimer = (opened: Promise<SideConnection>): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () =>
        void opened.then(
          (side) => closeIfIdle(opened, side),
          () => {},
        ),
      idleMs,
    );
    idleTimer.unref();
  };

  return {
    get() {
      if (!current) {
        const opening = SideConnection.open(config, credentials?.(), options.applicationName);
        current = opening;
        opening.then(
          (side) => side.onClose(() => current === opening && (current = undefined)),
          () => current === opening && (current = undefined),
        );
      }
      armIdleTimer(current);
      return current;
    },
    close: closeCurrent,
  };
}
