/**
 * Deciding from a terminal:
 *
 *   portcullis approvals [--mine] [--json]
 *   portcullis approve ID [--comment TEXT] [--json]
 *   portcullis deny ID --reason TEXT [--json]
 *
 * `approve` and `deny` take the id of a held statement (`portcullis approvals`) or of a just-in-time
 * access request (`portcullis requests --pending`). The hub gives both kinds distinct random ids, so the
 * id is tried as a held statement first and, when the hub knows no such held statement, as an access
 * request. `--json` prints `{"kind":"statement","approval":…}` or `{"kind":"access","request":…}`.
 */
import type { Command } from 'commander';
import type { Approval, DecisionInput } from '../../hub/api/types.ts';
import { formatDuration } from '../../hub/api/duration.ts';
import type { HubClient } from '../hub-client/index.ts';
import { decide, NothingToDecide, type Decided } from '../runtime/decisions.ts';
import { relativeTime, table, withJson } from './output.ts';
import { asSignedIn, oneLine, requireText, signedInCommand } from './signed-in.ts';

const HOW_TO_DECIDE =
  'Decide with `portcullis approve ID [--comment TEXT]` or `portcullis deny ID --reason TEXT`.';

export function renderApprovals(approvals: readonly Approval[], mine: boolean): string {
  if (mine) {
    if (approvals.length === 0) return 'None of your statements has been held for approval.';
    return table(
      ['ID', 'TARGET', 'STATE', 'SQL', 'DECIDED BY', 'ASKED'],
      approvals.map((a) => [
        a.id,
        a.targetId,
        a.state,
        oneLine(a.sql, 50),
        a.decidedBy ? oneLine(`${a.decidedBy.name}${a.comment ? `: ${a.comment}` : ''}`, 40) : '-',
        relativeTime(a.createdAt),
      ]),
    );
  }
  if (approvals.length === 0) return 'No held statements wait for your decision.';
  return [
    table(
      ['ID', 'TARGET', 'REQUESTER', 'SQL', 'RULE', 'EXPIRES'],
      approvals.map((a) => [
        a.id,
        a.targetId,
        a.requester.name,
        oneLine(a.sql, 50),
        oneLine(a.rule, 30),
        relativeTime(a.expiresAt),
      ]),
    ),
    '',
    HOW_TO_DECIDE,
  ].join('\n');
}

/** Decides `id` (a held statement or an access request), with the commands that list them as the hint. */
async function decideFromTerminal(hub: HubClient, id: string, decision: DecisionInput): Promise<Decided> {
  try {
    return await decide(hub, id, decision);
  } catch (error) {
    if (!(error instanceof NothingToDecide)) throw error;
    throw new Error(
      `${error.message}: \`portcullis approvals\` and \`portcullis requests --pending\` list what waits for your decision`,
      { cause: error },
    );
  }
}

export function describeDecision(decided: Decided): string {
  if (decided.kind === 'statement') {
    const a = decided.approval;
    const statement = `${a.requester.name}'s statement on ${a.targetId} (${oneLine(a.sql, 60)})`;
    return a.state === 'approved'
      ? `Approved held statement ${a.id}: ${statement} runs now.`
      : `Denied held statement ${a.id}: ${statement} fails with your reason.`;
  }
  const r = decided.request;
  switch (r.state) {
    case 'approved':
      return `Approved access request ${r.id}: ${r.requester.name} may use ${r.targetId} for ${formatDuration(r.durationSeconds)} (until ${r.expiresAt}).`;
    case 'denied':
      return `Denied access request ${r.id}: ${r.requester.name} may not use ${r.targetId}; they see your reason.`;
    default: {
      const missing = r.minApprovals - r.decisions.filter((d) => d.approve).length;
      return `Your approval of access request ${r.id} is recorded; it needs ${missing} more before ${r.requester.name} may use ${r.targetId}.`;
    }
  }
}

async function runDecision(id: string, decision: DecisionInput, json: boolean | undefined): Promise<void> {
  await asSignedIn({ json }, async ({ hub }, { out }) => {
    const decided = await decideFromTerminal(hub, id, decision);
    out.result(decided, () => describeDecision(decided));
  });
}

export function approvalsCommand(): Command {
  return withJson(signedInCommand('approvals'))
    .description(
      'List the held statements waiting for your decision (with --mine: your own held statements).',
    )
    .option('--mine', 'your own statements that were held for approval')
    .action((options: { mine?: boolean; json?: boolean }) =>
      asSignedIn(options, async ({ hub }, { out }) => {
        const approvals = await hub.approvals(options.mine ? 'mine' : 'pending');
        out.result(approvals, () => renderApprovals(approvals, options.mine === true));
        if (!options.mine && !out.json) {
          const access = await hub.accessRequests('pending');
          if (access.length > 0) {
            out.note(
              `${access.length} access request${access.length === 1 ? '' : 's'} also wait${access.length === 1 ? 's' : ''} for you: \`portcullis requests --pending\`.`,
            );
          }
        }
      }),
    );
}

const ID_HELP =
  'a held statement id (`portcullis approvals`) or an access request id (`portcullis requests --pending`)';

const DECISION_HELP = `
The id is looked up as a held statement first and, when the hub knows no held statement by that id, as a
just-in-time access request (the hub gives every held statement and request its own random id).

Exit codes: 0 decided; 1 refused (not an approver of the target, your own request, already decided,
no such id) or the hub unreachable; 2 wrong usage.`;

export function approveCommand(): Command {
  return withJson(signedInCommand('approve'))
    .description('Approve a held statement (it runs now) or a just-in-time access request.')
    .argument('<id>', ID_HELP)
    .option('--comment <text>', 'a note the requester sees')
    .addHelpText('after', DECISION_HELP)
    .action((id: string, options: { comment?: string; json?: boolean }) =>
      runDecision(id, { approve: true, comment: options.comment ?? null, via: 'cli' }, options.json),
    );
}

export function denyCommand(): Command {
  return withJson(signedInCommand('deny'))
    .description('Deny a held statement (it fails) or a just-in-time access request. A reason is required.')
    .argument('<id>', ID_HELP)
    .option('--reason <text>', 'why: the requester sees it (required)')
    .addHelpText('after', DECISION_HELP)
    .action((id: string, options: { reason?: string; json?: boolean }) => {
      const reason = requireText(
        options.reason,
        'deny needs --reason TEXT: the requester sees why, e.g. --reason "use the replica"',
      );
      return runDecision(id, { approve: false, comment: reason, via: 'cli' }, options.json);
    });
}
