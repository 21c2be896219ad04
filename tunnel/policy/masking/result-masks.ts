import { parseSync, scanSync } from 'libpg-query';
import { Backend } from '../../postgres/wire/codes.ts';
import { dataRowCellCount, type FieldDescription } from '../../postgres/wire/results.ts';
import {
  PASS_THROUGH,
  type MaybePromise,
  type ResultMask,
  type ResultPlanner,
  type ResultSource,
  type StatementEffect,
} from '../decision-point.ts';
import type { Classification } from '../classifier.ts';
import type { Policy } from '../policy.ts';
import type { AgingCatalog } from './catalog.ts';
import { maskCopyRow, type CopyRowOptions } from './copy-rows.ts';
import { maskDataRow, type RowMaskPlan } from './datarow.ts';
import type { ClientInput } from './client-input.ts';
import { ServerMessageMask } from './server-messages.ts';
import { createDetector, type ValueDetector } from './detectors.ts';
import { ColumnMasks, DERIVED_STRATEGY } from './column-masks.ts';
import type { ColumnMask } from './composite-values.ts';
import {
  fitOutputs,
  LineageAnalyzer,
  LineageUnknown,
  recordTaint,
  type OutputColumn,
  type Taint,
} from './lineage.ts';
import type { FreshRoutineNames } from './routine-names.ts';
import { type RoutineNames } from './routine-names.ts';
import { statementEffects } from './statement-effects.ts';

export interface Describer {
  describe(sql: string, parameterTypes?: readonly number[]): Promise<FieldDescription[] | null>;
}

/** Plans kept per target, for all its sessions. */
const PLAN_CACHE_SIZE = 1024;

interface Plan {
  mask: ResultMask;
  /**
   * When it was made. Kept for the catalog's TTL from then, of answers themselves at most a TTL old:
   * a change made outside the tunnel is masked by within twice the TTL; one made through it at once.
   */
  at: number;
  generation: number;
}

/**
 * Masking for one target's sessions: turns a result's columns (by provenance, lineage and detectors)
 * into a ResultMask applied to each DataRow while it streams. Plans are cached by statement text and
 * columns, no longer than the catalog answers they were made of.
 */
export class ResultMasking implements ResultPlanner {
  private readonly detector: ValueDetector | undefined;
  private readonly lineage: LineageAnalyzer;
  private readonly columnMasks: ColumnMasks;
  private readonly messages: ServerMessageMask;
  private readonly plans = new Map<string, Plan>();
  /** The database's names the cached plans were made with: other names, other plans. */
  private plansFingerprint = '';

  constructor(
    private readonly policy: Policy,
    private readonly catalog: AgingCatalog,
    private readonly describer: () => Promise<Describer>,
    /** Classifies a text now (what may run a user's code decides how long cursors are trusted). */
    private readonly classify: (sql: string) => Classification,
    /** What the database defines beyond the built-ins, kept fresh; needed only with mask rules. */
    private readonly routines?: FreshRoutineNames,
  ) {
    this.detector = policy.detect.length > 0 ? createDetector(policy.detect) : undefined;
    this.lineage = new LineageAnalyzer(policy, catalog, routines && (() => routines.current()));
    this.columnMasks = new ColumnMasks(catalog, this.lineage, this.detector !== undefined);
    this.messages = new ServerMessageMask({ provenance: policy.mask.length > 0, detector: this.detector });
  }

  maskServerMessage(frame: Buffer, input: ClientInput): Buffer {
    return frame[0] === Backend.notificationResponse
      ? this.messages.notification(frame, input)
      : this.messages.notice(frame, input);
  }

  effects(sql: string): readonly StatementEffect[] {
    return statementEffects(sql, this.classify(sql));
  }

  /** Masking for a result with these columns produced by `source`: sync when the plan is cached. */
  forResult(fields: readonly FieldDescription[], source: ResultSource): MaybePromise<ResultMask> {
    if (this.routines && this.policy.mask.length > 0) {
      const names = this.routines.fresh();
      if (!names) return this.routines.current().then((read) => this.planned(fields, source, read));
      return this.planned(fields, source, names);
    }
    return this.planned(fields, source, undefined);
  }

  private planned(
    fields: readonly FieldDescription[],
    source: ResultSource,
    names: RoutineNames | undefined,
  ): MaybePromise<ResultMask> {
    if (names && names.fingerprint !== this.plansFingerprint) {
      this.plans.clear();
      this.plansFingerprint = names.fingerprint;
    }
    const key = `${source.index}:${signature(fields)}:${source.sql}`;
    const cached = this.plans.get(key);
    const { generation, ttlMs } = this.catalog;
    const at = Date.now();
    if (cached && cached.generation === generation && at - cached.at < ttlMs) return cached.mask;
    return this.planColumns(fields, source.sql, source.index).then((columns) => {
      const mask = this.rowMask(columns, fields);
      // Made of answers read before the catalog was forgotten: good for this result only.
      if (this.catalog.generation === generation) this.remember(key, { mask, at, generation });
      return mask;
    });
  }

  /** Why a statement's COPY output could not be masked (binary format), before it runs. */
  copyRefusal(sql: string): string | undefined {
    let statements: RawStatement[];
    try {
      statements = (parseSync(sql) as unknown as { stmts?: RawStatement[] }).stmts ?? [];
    } catch {
      return undefined;
    }
    for (const { stmt } of statements) {
      const copy = stmt.CopyStmt;
      if (!copy || copy.is_from) continue;
      try {
        copyOptions(copy.options as Record<string, unknown>[] | undefined);
      } catch (error) {
        return (error as Error).message;
      }
    }
    return undefined;
  }

  async forCopyOut(sql: string, index: number): Promise<ResultMask> {
    const raw = (parseSync(sql) as unknown as { stmts: RawStatement[] }).stmts[index];
    const copy = raw?.stmt.CopyStmt;
    if (!raw || !copy) throw new Error('COPY output could not be matched to a COPY statement');
    const options = copyOptions(copy.options as Record<string, unknown>[] | undefined);
    let select: string;
    if (copy.query) {
      select = parenthesisedQuery(statementText(sql, raw));
    } else {
      const relation = copy.relation as { schemaname?: string; relname: string };
      const columns = ((copy.attlist as { String: { sval: string } }[] | undefined) ?? []).map((c) =>
        quoteIdent(c.String.sval),
      );
      select = `SELECT ${columns.length ? columns.join(', ') : '*'} FROM ${relation.schemaname ? `${quoteIdent(relation.schemaname)}.` : ''}${quoteIdent(relation.relname)}`;
    }
    const fields = await (await this.describer()).describe(select);
    if (!fields) throw new Error('COPY output could not be described');
    const columns = await this.planColumns(fields, select, 0);
    const plan: RowMaskPlan = {
      columns,
      formats: [],
      typeOids: fields.map((f) => f.typeOid),
      detector: this.detector,
    };
    let headerPending = options.header;
    return {
      maskDataRow: (frame) => ({ frame, maskedCells: 0 }),
      maskCopyData: (frame) => {
        if (headerPending) {
          headerPending = false;
          return { frame, maskedCells: 0 };
        }
        const payload = frame.subarray(5);
        const { line, maskedCells } = maskCopyRow(payload, plan, options.row);
        if (line === payload) return { frame, maskedCells };
        const out = Buffer.allocUnsafe(5 + line.length);
        out[0] = 0x64;
        out.writeUInt32BE(4 + line.length, 1);
        line.copy(out, 5);
        return { frame: out, maskedCells };
      },
    };
  }

  private async planColumns(
    fields: readonly FieldDescription[],
    sql: string,
    index: number,
  ): Promise<ColumnMask[]> {
    const taints =
      this.policy.mask.length === 0
        ? fields.map(() => undefined)
        : await this.columnTaints(fields, sql, index);
    return Promise.all(fields.map((field, i) => this.columnMasks.forColumn(taints[i], field.typeOid)));
  }

  private async columnTaints(
    fields: readonly FieldDescription[],
    sql: string,
    index: number,
  ): Promise<Taint[]> {
    let outputs: OutputColumn[] | undefined;
    if (fields.some((f) => f.tableOid === 0)) {
      try {
        outputs = fitOutputs(await this.lineage.outputsOf(sql, index), fields.length);
      } catch (error) {
        if (!(error instanceof LineageUnknown)) throw error;
      }
    }
    return Promise.all(
      fields.map(async (field, i) => {
        let taint: Taint;
        if (field.tableOid !== 0) {
          const relation = await this.catalog.relation(field.tableOid);
          const name = relation?.columns.get(field.columnNumber);
          const columns = relation ? await this.lineage.columnsOf(relation) : [];
          // Column number 0 is a whole-row reference (`SELECT c FROM customers c`).
          taint =
            field.columnNumber === 0
              ? recordTaint(columns.map((c) => c.taint))
              : columns.find((c) => c.name === name)?.taint;
        } else {
          // A computed column we cannot trace may carry masked data: mask it (fail closed).
          taint = outputs ? outputs[i]!.taint : { kind: 'derived' };
        }
        return taint;
      }),
    );
  }

  private rowMask(columns: ColumnMask[], fields: readonly FieldDescription[]): ResultMask {
    if (!this.detector && columns.every((c) => c === undefined)) return PASS_THROUGH;
    const typeOids = fields.map((f) => f.typeOid);
    const detector = this.detector;
    return {
      maskDataRow: (frame, formats) => maskDataRow(frame, { columns, formats, typeOids, detector }),
      maskCopyData: (frame) => ({ frame, maskedCells: 0 }),
    };
  }

  /**
   * Every cell masked, as a computed column made from masked data would be: text types read
   * `[redacted]`, others NULL (and every binary cell of a type the rewriter cannot vouch for).
   */
  maskWhole(fields?: readonly FieldDescription[]): ResultMask {
    const typeOids = fields?.map((f) => f.typeOid) ?? [];
    return {
      maskDataRow: (frame, formats) => {
        const count = dataRowCellCount(frame);
        const columns = Array.from({ length: count }, () => DERIVED_STRATEGY);
        return maskDataRow(frame, { columns, formats, typeOids, detector: undefined });
      },
      maskCopyData: () => {
        throw new Error('COPY output the tunnel cannot attribute is not passed');
      },
    };
  }

  private remember(key: string, plan: Plan): void {
    this.plans.delete(key);
    if (this.plans.size >= PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(key, plan);
  }
}

interface RawStatement {
  stmt: Record<string, Record<string, unknown>>;
  stmt_location?: number;
  stmt_len?: number;
}

/** One statement's text out of a multi-statement string (the parser's offsets count bytes). */
function statementText(sql: string, raw: RawStatement): string {
  const bytes = Buffer.from(sql, 'utf8');
  const start = raw.stmt_location ?? 0;
  return bytes.toString('utf8', start, raw.stmt_len ? start + raw.stmt_len : bytes.length);
}

/** The query inside `COPY ( … ) TO`, found by matching the parenthesis tokens, not by searching text. */
function parenthesisedQuery(statement: string): string {
  const bytes = Buffer.from(statement, 'utf8');
  let depth = 0;
  let start = -1;
  for (const token of scanSync(statement).tokens) {
    if (token.text === '(') {
      if (depth === 0) start = token.end;
      depth++;
    } else if (token.text === ')') {
      depth--;
      if (depth === 0 && start >= 0) return bytes.toString('utf8', start, token.start);
    }
  }
  throw new Error('could not find the query of COPY ( … ) TO');
}

function signature(fields: readonly FieldDescription[]): string {
  return fields.map((f) => `${f.tableOid}.${f.columnNumber}.${f.typeOid}`).join(',');
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function copyOptions(options: Record<string, unknown>[] | undefined): {
  header: boolean;
  row: CopyRowOptions;
} {
  const row: CopyRowOptions = {};
  let header = false;
  for (const item of options ?? []) {
    const def = item.DefElem as
      { defname: string; arg?: Record<string, { sval?: string; boolval?: boolean }> } | undefined;
    if (!def) continue;
    const value = def.arg?.String?.sval ?? def.arg?.Boolean?.boolval;
    switch (def.defname) {
      case 'format':
        if (value === 'binary')
          throw new Error('binary COPY output cannot be masked; use text or csv format');
        row.format = value === 'csv' ? 'csv' : 'text';
        break;
      case 'delimiter':
        row.delimiter = String(value);
        break;
      case 'null':
        row.null = String(value);
        break;
      case 'quote':
        row.quote = String(value);
        break;
      case 'escape':
        row.escape = String(value);
        break;
      case 'header':
        header =
          value === undefined || value === true || value === 'true' || value === 'on' || value === 'match';
        break;
    }
  }
  return { header, row };
}
