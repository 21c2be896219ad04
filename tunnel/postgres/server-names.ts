/**
 * The names a session's results are produced through, as the server holds them: prepared statements
 * (protocol Parse and SQL PREPARE share one namespace) and portals (protocol Bind and SQL DECLARE share
 * another). Each is learned when the server confirms it, so a name always stands for what the server
 * will run under it — or is absent, and whatever runs under it cannot be attributed.
 */
import type { FieldDescription } from './wire/results.ts';
import type { ResultSource, StatementEffect } from '../policy/decision-point.ts';

/** A statement as the tunnel saw it sent: its text and what it does. */
export interface Producer {
  source: ResultSource;
  effect: StatementEffect;
}

/** Rows and masked cells counted across the Executes of one portal, until it completes. */
export interface Tally {
  rows: number;
  maskedCells: number;
  startedAt: number;
}

export interface PortalState {
  /** Undefined: a portal the server has but the tunnel did not see made (a cursor opened by a function). */
  producer: Producer | undefined;
  /** A SQL cursor (DECLARE); `committed` once a WITH HOLD cursor survived its transaction. */
  cursor?: { holdable: boolean; committed: boolean };
  /** Result formats from Bind (empty: all text; one: all columns; else one per column). */
  formats: readonly number[];
  /** Its columns as the server last described them; null when it returns no rows. */
  fields?: readonly FieldDescription[] | null;
  /** What its suspended Executes have returned so far. */
  tally?: Tally;
}

/** Who produces a result, followed through FETCH and EXECUTE; no source means nobody can tell. */
export interface Resolution {
  source?: ResultSource;
  mayRunUserCode: boolean;
}

const UNATTRIBUTED: Resolution = { mayRunUserCode: true };

/** How many FETCH/EXECUTE indirections are followed (a portal of FETCH from a portal of EXECUTE …). */
const MAX_DEPTH = 8;

export class ServerNames {
  private readonly statements = new Map<string, Producer>();
  private readonly portals = new Map<string, PortalState>();

  statement(name: string): Producer | undefined {
    return this.statements.get(name);
  }

  portal(name: string): PortalState | undefined {
    return this.portals.get(name);
  }

  prepared(name: string, producer: Producer): void {
    this.statements.set(name, producer);
  }

  /** DEALLOCATE name, Close of a statement, a failed Parse of the unnamed one; all named ones without a name. */
  deallocated(name?: string): void {
    if (name !== undefined) {
      this.statements.delete(name);
      return;
    }
    const unnamed = this.statements.get('');
    this.statements.clear();
    if (unnamed) this.statements.set('', unnamed);
  }

  bound(portal: string, statement: string, formats: readonly number[]): void {
    this.portals.set(portal, { producer: this.statements.get(statement), formats });
  }

  /** The server described a portal: a name it has that the tunnel did not see made is kept, unattributed. */
  described(portal: string, fields: readonly FieldDescription[] | null): void {
    const state = this.portals.get(portal);
    if (state) state.fields = fields;
    else this.portals.set(portal, { producer: undefined, formats: [], fields });
  }

  declared(cursor: string, producer: Producer, holdable: boolean): void {
    this.portals.set(cursor, { producer, cursor: { holdable, committed: false }, formats: [] });
  }

  /** CLOSE name or Close of a portal; CLOSE ALL without a name. */
  closed(name?: string): void {
    if (name === undefined) this.portals.clear();
    else this.portals.delete(name);
  }

  discardedAll(): void {
    this.portals.clear();
    this.deallocated();
  }

  /**
   * Code the tunnel cannot see ran: it may have closed any cursor or portal and opened another under
   * the same name, so none is attributed any more — except `running`, which the server will not let
   * anything close while it runs.
   */
  forgetPortals(running?: string): void {
    for (const name of [...this.portals.keys()]) if (name !== running) this.portals.delete(name);
  }

  /**
   * An error or a ROLLBACK (to a savepoint, too) undid part of the transaction: what it opened may be
   * gone, and only WITH HOLD cursors of transactions already committed are sure to remain.
   */
  aborted(): void {
    for (const [name, state] of this.portals) {
      if (!state.cursor?.committed) this.portals.delete(name);
    }
  }

  /** The transaction ended (ReadyForQuery idle): only WITH HOLD cursors outlive it. */
  transactionEnded(): void {
    for (const [name, state] of this.portals) {
      if (state.cursor?.holdable) state.cursor.committed = true;
      else this.portals.delete(name);
    }
  }

  /** What produces the rows of `producer`, through the cursor it fetches or the statement it executes. */
  resolve(producer: Producer | undefined, depth = 0): Resolution {
    if (!producer || depth > MAX_DEPTH) return UNATTRIBUTED;
    const { effect } = producer;
    let inner: Resolution | undefined;
    if (effect.kind === 'fetch') inner = this.resolve(this.portals.get(effect.cursor)?.producer, depth + 1);
    else if (effect.kind === 'execute') inner = this.resolve(this.statements.get(effect.name), depth + 1);
    if (!inner) return { source: producer.source, mayRunUserCode: effect.mayRunUserCode };
    return {
      ...(inner.source ? { source: inner.source } : {}),
      mayRunUserCode: effect.mayRunUserCode || inner.mayRunUserCode,
    };
  }
}
