/**
 * `portcullis targets [--json]`: the targets the signed-in account may use or request, how it stands with
 * each, and the command that gets it further. `--json` prints the hub's TargetEntitlement array.
 */
import type { Command } from 'commander';
import type { TargetEntitlement } from '../../hub/api/types.ts';
import { formatDuration } from '../../hub/api/duration.ts';
import { relativeTime, table, withJson } from './output.ts';
import { asSignedIn, signedInCommand } from './signed-in.ts';

function status(target: TargetEntitlement): string {
  switch (target.status) {
    case 'granted':
      return target.grant ? `granted, ends ${relativeTime(target.grant.expiresAt)}` : 'granted';
    case 'requestable':
      return target.jit
        ? `requestable (up to ${formatDuration(target.jit.maxDurationSeconds)})`
        : 'requestable';
    case 'pending':
      return 'pending approval';
    case 'none':
      return 'no access (admin view)';
    default:
      return target.status;
  }
}

function nextStep(target: TargetEntitlement): string {
  switch (target.status) {
    case 'standing':
    case 'granted':
      return `portcullis connect ${target.id}`;
    case 'requestable':
      return `portcullis request ${target.id} --reason "…"`;
    case 'pending':
      return `portcullis request ${target.id} --wait`;
    default:
      return '-';
  }
}

export function renderTargets(targets: readonly TargetEntitlement[], hub: string): string {
  if (targets.length === 0) {
    return `No targets on ${hub}: none of your groups has access or may request it. Ask an admin of the hub.`;
  }
  return table(
    ['ID', 'NAME', 'STATUS', 'POLICY', 'NEXT'],
    targets.map((t) => [t.id, t.name, status(t), t.policy, nextStep(t)]),
  );
}

export function targetsCommand(): Command {
  return withJson(signedInCommand('targets'))
    .description('List the targets you may use or request, and what to run next for each.')
    .action((options: { json?: boolean }) =>
      asSignedIn(options, async (account, { out }) => {
        const targets = await account.hub.targets();
        out.result(targets, () => renderTargets(targets, account.profile.hub));
      }),
    );
}
