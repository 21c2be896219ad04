/**
 * Denied statements on their way through the server. A denied statement is replaced upstream by one
 * that fails at once with a unique marker: the server then answers in order with everything pipelined
 * before it, aborts a surrounding transaction block (so a later COMMIT cannot commit earlier work), and
 * skips to Sync in the extended protocol. The marked error is swapped for the tunnel's own when it
 * comes back. A pure state machine: no sockets.
 */
import { randomBytes } from 'node:crypto';
import { serialize } from 'pg-protocol';
import type { Decision } from '../policy/decision-point.ts';
import { errorResponse } from './wire/notices.ts';

export type DeniedDecision = Extract<Decision, { action: 'deny' }>;

export class Denials {
  /** The tunnel's error for each marker, and the sync point by which the server will have answered. */
  private readonly pending = new Map<string, { replacement: Buffer; dueBy: number }>();

  /**
   * The message to send upstream in place of the denied one; `dueBy` counts the sync point
   * (ReadyForQuery) that will settle it.
   */
  replace(decision: DeniedDecision, extended: boolean, dueBy: number): Buffer {
    const marker = `portcullis_denied_${randomBytes(8).toString('hex')}`;
    this.pending.set(marker, { replacement: tunnelError(decision), dueBy });
    const failing = `SELECT '${marker}'::pg_catalog.regclass`;
    return extended ? serialize.parse({ name: marker, text: failing }) : serialize.query(failing);
  }

  /** The tunnel's own error for a server error that carries a marker; undefined for any other. */
  replacementFor(message: string): Buffer | undefined {
    if (this.pending.size === 0) return undefined;
    for (const [marker, denial] of this.pending) {
      if (message.includes(marker)) {
        this.pending.delete(marker);
        return denial.replacement;
      }
    }
    return undefined;
  }

  /**
   * The server answered sync point `answered`: a denial whose marker never came back (the server was
   * skipping an aborted transaction and said so itself) is settled by then.
   */
  settle(answered: number): void {
    if (this.pending.size === 0) return;
    for (const [marker, denial] of this.pending) {
      if (denial.dueBy <= answered) this.pending.delete(marker);
    }
  }

  get size(): number {
    return this.pending.size;
  }
}

function tunnelError(decision: DeniedDecision): Buffer {
  return errorResponse(
    decision.syntaxError
      ? {
          severity: 'ERROR',
          code: '42601',
          message: decision.message,
          position: decision.syntaxError.position,
          detail: `Portcullis did not send this statement to the server: it does not parse (rule: ${decision.rule}).`,
        }
      : {
          severity: 'ERROR',
          code: decision.code ?? '42501',
          message: `Portcullis denied this statement (rule: ${decision.rule}): ${decision.message}`,
        },
  );
}
