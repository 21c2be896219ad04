/**
 * Just-in-time access from a terminal:
 *
 *   portcullis request TARGET --reason TEXT [--duration 30m] [--wait] [--json]
 *   portcullis requests [--pending] [--json]
 *
 * `request --wait` follows the decision on the hub's event stream (polling the request when the stream
 * is unavailable) and exits 0 once approved, 1 when denied, expired or cancelled. Run again with `--wait`
 * and no `--reason`, it waits for the request already pending on that target.
 */
import type { Command } from 'commander';
import type { AccessRequest, AccessRequestInput } from '../../hub/api/types.ts';
import { formatDuration } from '../../hub/api/duration.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import { relativeTime, table, withJson, type Output } from './output.ts';
import { asSignedIn, checkDuration, oneLine, signedInCommand } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

interface RequestOptions {
  reason?: string;
  duration?: string;
  wait?: boolean;
  json?: boolean;
}

const POLL_MS = 2000;

function approverOf(request: AccessRequest): string {
  const decision = request.decisions.find((d) => d.approve === (request.state === 'approved'));
  if (!decision) return '';
  return ` by ${decision.approver.name}${decision.comment ? ` ("${decision.comment}")` : ''}`;
}

/** What happened to a request, in one sentence for people. */
export function describeOutcome(request: AccessRequest): string {
  switch (request.state) {
    case 'approved':
      return `access request ${request.id} was approved${approverOf(request)}: you may use ${request.targetId} until ${request.expiresAt} (${relativeTime(request.expiresAt)})`;
    case 'denied':
      return `access request ${request.id} was denied${approverOf(request)}`;
    case 'expired':
      return request.decidedAt && request.expiresAt
        ? `the grant ${request.id} on ${request.targetId} has expired`
        : `access request ${request.id} expired before anyone decided`;
    case 'cancelled':
    case 'revoked':
      return `access request ${request.id} was ${request.state}${request.closedBy ? ` by ${request.closedBy.name}` : ''}${request.closeComment ? ` ("${request.closeComment}")` : ''}`;
    default:
      return `access request ${request.id} is ${request.state}`;
  }
}

function stateCell(request: AccessRequest): string {
  switch (request.state) {
    case 'approved':
      return `approved, ends ${relativeTime(request.expiresAt)}`;
    case 'pending': {
      const approvals = request.decisions.filter((d) => d.approve).length;
      return request.minApprovals > 1 ? `pending (${approvals}/${request.minApprovals})` : 'pending';
    }
    case 'denied':
      return `denied${approverOf(request)}`;
    default:
      return request.state;
  }
}

export function renderRequests(requests: readonly AccessRequest[], pending: boolean): string {
  if (pending) {
    if (requests.length === 0) return 'No access requests wait for your decision.';
    return [
      table(
        ['ID', 'TARGET', 'REQUESTER', 'FOR', 'REASON', 'ASKED'],
        requests.map((r) => [
          r.id,
          r.targetId,
          r.requester.name,
          formatDuration(r.durationSeconds),
          oneLine(r.reason, 50),
          relativeTime(r.createdAt),
        ]),
      ),
      '',
      'Decide with `portcullis approve ID [--comment TEXT]` or `portcullis deny ID --reason TEXT`.',
    ].join('\n');
  }
  if (requests.length === 0) {
    return 'You have no access requests. `portcullis targets` shows what you may request.';
  }
  return table(
    ['ID', 'TARGET', 'STATE', 'FOR', 'REASON', 'ASKED'],
    requests.map((r) => [
      r.id,
      r.targetId,
      oneLine(stateCell(r), 50),
      formatDuration(r.durationSeconds),
      oneLine(r.reason, 40),
      relativeTime(r.createdAt),
    ]),
  );
}

/**
 * Resolves with the request once it is no longer pending. Follows the caller's event stream and reads
 * the request each time the stream (re)connects, since a decision taken while it was not connected sends
 * nothing to it; when the stream cannot be had, reads the request every few seconds instead.
 */
export async function waitForAccessDecision(
  hub: HubClient,
  requestId: string,
  signal: AbortSignal,
  out: Output,
  waiting: string,
): Promise<AccessRequest | undefined> {
  const stream = new AbortController();
  const stop = (): void => stream.abort();
  signal.addEventListener('abort', stop);
  let found: AccessRequest | undefined;
  let failure: unknown;
  let checks: Promise<void> = Promise.resolve();
  const check = (): void => {
    checks = checks.then(async () => {
      try {
        const current = await hub.accessRequest(requestId, { signal: stream.signal });
        if (current.state !== 'pending') found = current;
      } catch (error) {
        if (!stream.signal.aborted) failure = error;
      }
      if (found || failure) stream.abort();
    });
  };
  let streamFailed = false;
  try {
    for await (const event of hub.events({ signal: stream.signal, maxRetries: 1, onOpen: check })) {
      const request = event.payload['request'] as AccessRequest | undefined;
      if (request?.id === requestId && request.state !== 'pending') return request;
    }
  } catch {
    streamFailed = true;
  } finally {
    signal.removeEventListener('abort', stop);
    stream.abort();
  }
  await checks;
  if (found) return found;
  if (failure) throw failure;
  if (signal.aborted || !streamFailed) return undefined;

  return pollForDecision(hub, requestId, signal, out, waiting);
}

/** Without the event stream: reads the request every few seconds until it is decided or the wait ends. */
async function pollForDecision(
  hub: HubClient,
  requestId: string,
  signal: AbortSignal,
  out: Output,
  waiting: string,
): Promise<AccessRequest | undefined> {
  for (;;) {
    try {
      const current = await hub.accessRequest(requestId, { signal });
      if (current.state !== 'pending') return current;
      out.progress(waiting);
    } catch (error) {
      if (signal.aborted) return undefined;
      if (!(error instanceof HubError) || error.status !== 0) throw error;
      out.progress(`cannot reach the hub (${error.message}); still waiting for request ${requestId}…`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, POLL_MS);
      signal.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
    if (signal.aborted) return undefined;
  }
}

/** The pending request of the caller on `targetId`, if there is one. */
async function pendingRequestOn(hub: HubClient, targetId: string): Promise<string | null> {
  const target = (await hub.targets()).find((t) => t.id === targetId);
  return target?.pendingRequestId ?? null;
}

async function createRequest(
  hub: HubClient,
  targetId: string,
  options: RequestOptions,
  out: Output,
): Promise<AccessRequest | string> {
  const reason = options.reason?.trim() ?? '';
  if (reason === '') {
    if (options.wait) {
      const pending = await pendingRequestOn(hub, targetId);
      if (pending) return pending;
    }
    throw new UsageError(
      `--reason TEXT is required: say why you need ${targetId} (the approvers read it), e.g. --reason "incident 4711"`,
    );
  }
  const input: AccessRequestInput = { targetId, reason };
  if (options.duration !== undefined) input.duration = checkDuration('--duration', options.duration);
  try {
    return await hub.requestAccess(input);
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    if (error.status === 409) {
      const pending = await pendingRequestOn(hub, targetId);
      if (pending && options.wait) {
        out.note(`A request for ${targetId} is already pending (${pending}); waiting for it.`);
        return pending;
      }
      if (pending) {
        throw new Error(
          `a request for ${targetId} is already pending (${pending}); \`portcullis request ${targetId} --wait\` waits for its decision`,
          { cause: error },
        );
      }
    }
    if (error.status === 404) {
      throw new Error(`${error.message}; \`portcullis targets\` lists the targets you may request`, {
        cause: error,
      });
    }
    if (error.status === 403) {
      throw new Error(`cannot request ${targetId}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

async function waitAndReport(
  hub: HubClient,
  requestId: string,
  targetId: string,
  out: Output,
): Promise<void> {
  const interrupted = new AbortController();
  const onSigint = (): void => interrupted.abort();
  process.once('SIGINT', onSigint);
  let decided: AccessRequest | undefined;
  try {
    const waiting = `waiting for an approver of ${targetId} to decide request ${requestId}… (Ctrl-C to stop waiting)`;
    out.progress(waiting);
    decided = await waitForAccessDecision(hub, requestId, interrupted.signal, out, waiting);
  } finally {
    process.off('SIGINT', onSigint);
    out.progress(undefined);
  }
  if (!decided) {
    throw new Error(
      `stopped waiting; request ${requestId} is still pending (\`portcullis requests\` shows it; \`portcullis request ${targetId} --wait\` waits again)`,
    );
  }
  const outcome = describeOutcome(decided);
  if (decided.state === 'approved') {
    out.result(decided, () => `${outcome}.\nConnect with \`portcullis connect ${decided.targetId}\`.`);
    return;
  }
  if (out.json) out.result(decided, () => '');
  throw new Error(outcome);
}

async function request(targetId: string, options: RequestOptions): Promise<void> {
  await asSignedIn(options, async ({ hub }, { out }) => {
    const created = await createRequest(hub, targetId, options, out);
    if (typeof created !== 'string') {
      const summary = `Requested access to ${created.targetId} for ${formatDuration(created.durationSeconds)}: request ${created.id}.`;
      const approvals = created.minApprovals === 1 ? '1 approval' : `${created.minApprovals} approvals`;
      const who = `It needs ${approvals} from the approvers of ${created.targetId}; they see it in \`portcullis requests --pending\` and the app.`;
      if (!options.wait) {
        out.result(
          created,
          () =>
            `${summary}\n${who}\nWait for the decision with \`portcullis request ${created.targetId} --wait\`.`,
        );
        return;
      }
      if (!out.json) out.note(`${summary}\n${who}`);
    }
    if (options.wait) {
      await waitAndReport(hub, typeof created === 'string' ? created : created.id, targetId, out);
    }
  });
}

export function requestCommand(): Command {
  return withJson(signedInCommand('request'))
    .description(
      'Ask for just-in-time access to a target; its approvers decide. With --wait, exit 0 once approved and 1 when denied or expired.',
    )
    .argument('<target>', 'the target id (see `portcullis targets`)')
    .option('--reason <text>', 'why you need access; the approvers read it (required for a new request)')
    .option('--duration <time>', "how long, e.g. 30m or 2h (default: the target's maximum)")
    .option('--wait', 'wait for the decision (also: wait for the request already pending on the target)')
    .addHelpText(
      'after',
      `
Exit codes: 0 requested (with --wait: approved); 1 refused, denied, expired, cancelled, stopped waiting,
or the hub unreachable; 2 wrong usage (no --reason, a bad --duration, longer than the target allows).`,
    )
    .action((targetId: string, options: RequestOptions) => request(targetId, options));
}

export function requestsCommand(): Command {
  return withJson(signedInCommand('requests'))
    .description('List your access requests, or with --pending those waiting for your decision.')
    .option('--pending', 'requests waiting for your decision as an approver')
    .action((options: { pending?: boolean; json?: boolean }) =>
      asSignedIn(options, async ({ hub }, { out }) => {
        const requests = await hub.accessRequests(options.pending ? 'pending' : 'mine');
        out.result(requests, () => renderRequests(requests, options.pending === true));
      }),
    );
}
