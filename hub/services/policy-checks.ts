/**
 * The hub checks the policies it serves against each target's database, as the tunnel does before it
 * guards (hub/api/policy-names.ts): a mask or table rule, trusted extension or trusted function that
 * names nothing there would silently protect nothing. Problems are reported to admins (GET
 * /v1/policy-checks, and the hub's log through `onChecked`), and no session opens on such a target
 * until its policy or its database is fixed (fail closed). A target the hub cannot reach is reported
 * as unchecked and left to the tunnel's own check.
 */
import { readFile } from 'node:fs/promises';
import { checkPolicyNames, policyCatalogFromRows, policyCatalogQuery } from '../api/policy-names.ts';
import { describePolicyProblem } from '../api/policy-names.ts';
import type { Identity, PolicyCheck } from '../api/types.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { iso } from './clock.ts';
import { isAdmin, requireTarget, type ServiceContext } from './context.ts';
import { ForbiddenError, UnavailableError } from './errors.ts';
import { policyReferences } from './policy-references.ts';
import type { TargetQuery } from './target-catalog.ts';

/** How long a check's answer stands, by its outcome: a fixed problem is seen again within seconds. */
const FRESH_MS: Record<PolicyCheck['status'], number> = { ok: 60_000, problems: 5_000, unchecked: 30_000 };

export class PolicyCheckService {
  private readonly results = new Map<string, PolicyCheck>();
  private readonly running = new Map<string, Promise<PolicyCheck>>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly query: TargetQuery,
    private readonly onChecked: (check: PolicyCheck) => void = () => {},
  ) {}

  /** Every target's check (admins), checking those whose answer is stale. */
  async list(identity: Identity): Promise<PolicyCheck[]> {
    this.requireAdmin(identity);
    return Promise.all(this.ctx.config().targets.map((target) => this.current(target)));
  }

  /** Checks one target now (admins), whatever the last answer. */
  async recheck(identity: Identity, targetId: string): Promise<PolicyCheck> {
    this.requireAdmin(identity);
    return this.check(requireTarget(this.ctx.config(), targetId));
  }

  /** Checks every target now; for the hub's start and its periodic sweep. */
  checkAll(): Promise<PolicyCheck[]> {
    return Promise.all(this.ctx.config().targets.map((target) => this.check(target)));
  }

  /**
   * Refuses a session on a target whose policy names what its database does not have. A stale good
   * (or unchecked) answer stands while a fresh check runs in the background, so opening a session
   * does not wait on a database the hub may not even reach; a stale bad answer is checked again first,
   * so a fix takes effect at once.
   */
  async requireUsable(target: TargetConfig): Promise<void> {
    const last = this.results.get(target.id);
    const check =
      last && last.policy === target.policy.name && last.status !== 'problems'
        ? (void this.current(target).catch(() => {}), last)
        : await this.current(target);
    if (check.status !== 'problems') return;
    throw new UnavailableError(
      `target ${target.id}: its policy names what its database does not have, so no session opens until an ` +
        `admin fixes it: ${check.problems.map(describePolicyProblem).join('; ')}`,
    );
  }

  private requireAdmin(identity: Identity): void {
    if (!isAdmin(this.ctx.config(), identity)) throw new ForbiddenError('policy checks are for admins');
  }

  private current(target: TargetConfig): Promise<PolicyCheck> {
    const last = this.results.get(target.id);
    const now = this.ctx.clock.now().getTime();
    if (
      last &&
      last.policy === target.policy.name &&
      now - Date.parse(last.checkedAt) < FRESH_MS[last.status]
    ) {
      return Promise.resolve(last);
    }
    return this.check(target);
  }

  private check(target: TargetConfig): Promise<PolicyCheck> {
    let running = this.running.get(target.id);
    if (!running) {
      running = this.run(target).finally(() => this.running.delete(target.id));
      this.running.set(target.id, running);
    }
    return running;
  }

  private async run(target: TargetConfig): Promise<PolicyCheck> {
    const base = { targetId: target.id, policy: target.policy.name };
    let check: PolicyCheck;
    try {
      const problems = await this.problemsOf(target);
      check = {
        ...base,
        checkedAt: iso(this.ctx.clock.now()),
        status: problems.length > 0 ? 'problems' : 'ok',
        problems,
        error: null,
      };
    } catch (error) {
      check = {
        ...base,
        checkedAt: iso(this.ctx.clock.now()),
        status: 'unchecked',
        problems: [],
        error: (error as Error).message,
      };
    }
    this.results.set(target.id, check);
    this.onChecked(check);
    return check;
  }

  private async problemsOf(target: TargetConfig): Promise<PolicyCheck['problems']> {
    if (target.policy.kind === 'preset') return [];
    const yaml = await readFile(target.policy.path, 'utf8');
    const { refs, problems } = policyReferences(yaml, target.policy.name);
    // An SSH target has no database whose catalog the names could be checked against.
    if (problems.length > 0 || refs.length === 0 || target.kind === 'ssh') return problems;
    const rows = await this.query(target, policyCatalogQuery(refs));
    return checkPolicyNames(refs, policyCatalogFromRows(rows));
  }
}
