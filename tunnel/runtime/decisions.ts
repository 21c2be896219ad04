/**
 * Deciding what waits for an approver: a held statement or a just-in-time access request. The hub gives
 * both kinds distinct random ids, so an id is tried as a held statement first and, when the hub knows no
 * such held statement, as an access request. A refusal says who decided first when someone did.
 */
import type { AccessRequest, Approval, DecisionInput } from '../../hub/api/types.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import { relativeTime } from './relative-time.ts';

export type Decided = { kind: 'statement'; approval: Approval } | { kind: 'access'; request: AccessRequest };

export type DecisionKind = Decided['kind'];

/** The hub knows no held statement and no access request by this id. */
export class NothingToDecide extends Error {
  override name = 'NothingToDecide';
  constructor(
    readonly id: string,
    options?: { cause?: unknown },
  ) {
    super(`no held statement or access request ${id}`, options);
  }
}

/** The hub refused the decision; the message says why (and who decided first, when someone did). */
export class DecisionRefused extends Error {
  override name = 'DecisionRefused';
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function isNotFound(error: unknown): error is HubError {
  return error instanceof HubError && error.status === 404;
}

/** Decides `id` as whichever kind the hub knows it as. */
export async function decide(hub: HubClient, id: string, decision: DecisionInput): Promise<Decided> {
  try {
    return await decideAs(hub, 'statement', id, decision);
  } catch (error) {
    if (!(error instanceof NothingToDecide)) throw error;
  }
  return decideAs(hub, 'access', id, decision);
}

/** Decides `id` knowing its kind; NothingToDecide when the hub has no such thing. */
export async function decideAs(
  hub: HubClient,
  kind: DecisionKind,
  id: string,
  decision: DecisionInput,
): Promise<Decided> {
  try {
    return kind === 'statement'
      ? { kind, approval: await hub.decideApproval(id, decision) }
      : { kind, request: await hub.decideAccess(id, decision) };
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    if (isNotFound(error)) throw new NothingToDecide(id, { cause: error });
    throw await refusal(hub, kind, id, decision.approve ? 'approve' : 'deny', error);
  }
}

function byWhom(actor: { name: string } | null | undefined, at: string | null): string {
  return `${actor ? ` by ${actor.name}` : ''}${at ? ` ${relativeTime(at)}` : ''}`;
}

async function alreadyDecided(hub: HubClient, kind: DecisionKind, id: string): Promise<string | undefined> {
  const what = kind === 'statement' ? 'held statement' : 'access request';
  if (kind === 'statement') {
    const current = await hub.approval(id);
    if (current.state === 'approved' || current.state === 'denied') {
      return `${what} ${id} was already ${current.state}${byWhom(current.decidedBy, current.decidedAt)}${current.comment ? ` ("${current.comment}")` : ''}`;
    }
    if (current.state === 'withdrawn') {
      return `${what} ${id} was withdrawn by ${current.requester.name}: they no longer wait for it`;
    }
    if (current.state === 'expired') {
      return `${what} ${id} expired ${relativeTime(current.decidedAt)} before anyone decided`;
    }
    return undefined;
  }
  const current = await hub.accessRequest(id);
  const decisive = current.decisions.find((d) => d.approve === (current.state === 'approved'));
  if ((current.state === 'approved' || current.state === 'denied') && decisive) {
    return `${what} ${id} was already ${current.state}${byWhom(decisive.approver, decisive.at)}`;
  }
  if (current.state === 'cancelled' || current.state === 'revoked') {
    return `${what} ${id} was already ${current.state}${byWhom(current.closedBy, null)}`;
  }
  return undefined;
}

async function refusal(
  hub: HubClient,
  kind: DecisionKind,
  id: string,
  verb: string,
  error: HubError,
): Promise<Error> {
  const what = kind === 'statement' ? 'held statement' : 'access request';
  if (error.status === 403) {
    return new DecisionRefused(`cannot ${verb} ${what} ${id}: ${error.message}`, 403, { cause: error });
  }
  if (error.status !== 409) return error;
  try {
    const first = await alreadyDecided(hub, kind, id);
    if (first) return new DecisionRefused(first, 409, { cause: error });
  } catch {
    // Reading it back is only for a better message: the hub's own answer stands.
  }
  return new DecisionRefused(`cannot ${verb} ${what} ${id}: ${error.message}`, 409, { cause: error });
}
