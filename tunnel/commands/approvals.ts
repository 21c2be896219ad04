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
import type { AccessRequest, CommandApproval, DecisionInput } from '../../hub/api/types.ts';
import { formatDuration } from '../../hub/config/duration.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import { relativeTime, table, withJson } from './output.ts';
import { asSignedIn, isNotFound, oneLine, requireText, signedInCommand } from './signed-in.ts';

type Decided = { kind: 'statement'; approval: CommandApproval } | { kind: 'access'; request: AccessRequest };

const HOW_TO_DECIDE =
  'Decide with `portcullis approve ID [--comment TEXT]` or `portcullis deny ID --reason TEXT`.';

export function renderApprovals(approvals: readonly CommandApproval[], mine: boolean): string {
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

function byWhom(actor: { name: string } | null | undefined, at: string | null): string {
  return `${actor ? ` by ${actor.name}` : ''}${at ? ` ${relativeTime(at)}` : ''}`;
}

/** Why a decision was refused, saying who decided first when someone did. */
async function refusal(
  hub: HubClient,
  kind: Decided['kind'],
  id: string,
  verb: string,
  error: HubError,
): Promise<Error> {
  const what = kind === 'statement' ? 'held statement' : 'access request';
  if (error.status === 403) return new Error(`cannot ${verb} ${what} ${id}: ${error.message}`);
  if (error.status !== 409) return error;
  try {
    if (kind === 'statement') {
      const current = await hub.approval(id);
      if (current.state === 'approved' || current.state === 'denied') {
        return new Error(
          `${what} ${id} was already ${current.state}${byWhom(current.decidedBy, current.decidedAt)}${current.comment ? ` ("${current.comment}")` : ''}`,
        );
      }
      if (current.state === 'withdrawn') {
        return new Error(
          `${what} ${id} was withdrawn by ${current.requester.name}: they no longer wait for it`,
        );
      }
      if (current.state === 'expired') {
        return new Error(`${what} ${id} expired ${relativeTime(current.decidedAt)} before anyone decided`);
      }
    } else {
      const current = await hub.accessRequest(id);
      const decisive = current.decisions.find((d) => d.approve === (current.state === 'approved'));
      if ((current.state === 'approved' || current.state === 'denied') && decisive) {
        return new Error(
          `${what} ${id} was already ${current.state}${byWhom(decisive.approver, decisive.at)}`,
        );
      }
      if (current.state === 'cancelled' || current.state === 'revoked') {
        return new Error(`${what} ${id} was already ${current.state}${byWhom(current.closedBy, null)}`);
      }
    }
  } catch {
    // Reading it back is only for a better message: the hub's own answer stands.
  }
  return new Error(`cannot ${verb} ${what} ${id}: ${error.message}`);
}

async function decide(hub: HubClient, id: string, decision: DecisionInput): Promise<Decided> {
  const verb = decision.approve ? 'approve' : 'deny';
  try {
    return { kind: 'statement', approval: await hub.decideApproval(id, decision) };
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    if (!isNotFound(error)) throw await refusal(hub, 'statement', id, verb, error);
  }
  try {
    return { kind: 'access', request: await hub.decideAccess(id, decision) };
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    if (isNotFound(error)) {
      throw new Error(
        `no held statement or access request ${id}: \`portcullis approvals\` and \`portcullis requests --pending\` list what waits for your decision`,
        { cause: error },
      );
    }
    throw await refusal(hub, 'access', id, verb, error);
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
    const decided = await decide(hub, id, decision);
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
      runDecision(id, { approve: true, comment: options.comment ?? null }, options.json),
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
      return runDecision(id, { approve: false, comment: reason }, options.json);
    });
}
