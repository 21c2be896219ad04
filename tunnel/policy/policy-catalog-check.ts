/**
 * Refuses a policy whose rules name what the target database does not have (a mask rule on
 * customers.emial would mask nothing and let customers.email through in clear). Run before a tunnel
 * guards: `portcullis guard` with a policy file, and tunnels opened from the hub's policies.
 */
import {
  checkPolicyNames,
  describePolicyProblem,
  policyCatalogFromRows,
  policyCatalogQuery,
  type PolicyNameRef,
  type PolicyProblem,
} from '../../hub/api/policy-names.ts';
import type { QueryRunner } from './masking/catalog.ts';
import type { Policy } from './policy.ts';

export class PolicyCatalogError extends Error {
  constructor(readonly problems: readonly PolicyProblem[]) {
    super(
      `the policy names what the database does not have:\n${problems.map((p) => `  ${describePolicyProblem(p)}`).join('\n')}`,
    );
    this.name = 'PolicyCatalogError';
  }
}

/** Every name a policy file's rules give: mask columns, rule tables, trusted extensions and functions. */
export function policyNameRefs(policy: Policy): PolicyNameRef[] {
  const refs: PolicyNameRef[] = [];
  for (const rule of policy.mask) {
    refs.push({
      source: rule.source,
      field: rule.field ?? 'mask',
      kind: 'column',
      ...(rule.schema === undefined ? {} : { schema: rule.schema }),
      table: rule.table,
      column: rule.column,
    });
  }
  for (const rule of policy.rules) {
    if (rule.table === undefined) continue;
    refs.push({
      source: rule.source,
      field: rule.field ?? 'table',
      kind: 'table',
      ...(rule.table.schema === undefined ? {} : { schema: rule.table.schema }),
      table: rule.table.name,
    });
  }
  for (const extension of policy.trustedExtensions ?? []) {
    refs.push({ source: extension.source, field: extension.field, kind: 'extension', name: extension.name });
  }
  for (const fn of policy.trustedFunctions ?? []) {
    refs.push({
      source: fn.source,
      field: fn.field,
      kind: 'function',
      ...(fn.schema === undefined ? {} : { schema: fn.schema }),
      name: fn.name,
    });
  }
  return refs;
}

/** Throws PolicyCatalogError listing every name of the policy the database does not have. */
export async function checkPolicyCatalog(policy: Policy, runner: QueryRunner): Promise<void> {
  const refs = policyNameRefs(policy);
  if (refs.length === 0) return;
  const { text, values } = policyCatalogQuery(refs);
  const problems = checkPolicyNames(refs, policyCatalogFromRows(await runner.query(text, values)));
  if (problems.length > 0) throw new PolicyCatalogError(problems);
}
