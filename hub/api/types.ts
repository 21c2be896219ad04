/**
 * The hub's API types: what its services take and return, and what its HTTP routes carry as JSON.
 * The tunnel (hub-client) and the desktop app see only these, never the hub's internals. Times are
 * ISO-8601 UTC strings ("2025-01-31T09:30:00.000Z"); durations are whole seconds. What callers send is
 * defined once, as the zod schemas in requests/ the routes validate with; its types are derived here.
 */
import type { z } from 'zod';
import type * as requests from './requests/index.ts';
import { decisionChannel } from './requests/decisions.ts';

export type IdentityKind = 'person' | 'agent';

/** The caller, as the hub's authentication (hub/auth) derives it from a verified access token. */
export interface Identity {
  /** The token's `sub`: stable and unique per person or agent. */
  subject: string;
  /** For people to read: the token's name (or the client id of an agent). */
  name: string;
  /** From the configured groups claim; entitlements, approvers, auditors and admins are groups. */
  groups: string[];
  kind: IdentityKind;
}

/** Who did something, as stored with it. */
export interface Actor {
  subject: string;
  name: string;
}

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
/** What a target is: a PostgreSQL database, or a server reached over SSH. */
export type TargetKind = 'postgres' | 'ssh';
export type PolicyPreset = 'read-only' | 'guarded' | 'observe';

// ---------------------------------------------------------------------------------------------------
// Entitlements

/**
 * How the caller stands with one target:
 * - `standing`: a group of theirs has standing access;
 * - `granted`: an approved just-in-time grant is active (see `grant.expiresAt`);
 * - `pending`: they asked for access and wait for approvers;
 * - `requestable`: they may ask for just-in-time access;
 * - `none`: listed only because they are an admin (admins see the whole catalogue).
 */
export type TargetStatus = 'standing' | 'granted' | 'pending' | 'requestable' | 'none';

export interface TargetEntitlement {
  id: string;
  name: string;
  kind: TargetKind;
  /** host:port, as configured. */
  address: string;
  /** The database of a Postgres target; null for an SSH target. */
  database: string | null;
  /** The preset name or the policy file's name as written in hub.yaml. */
  policy: string;
  status: TargetStatus;
  /** Whether a session may be opened now (`standing` or `granted`). */
  usable: boolean;
  /** The active grant a session would ride on; null with standing access or none. */
  grant: { requestId: string; expiresAt: string } | null;
  pendingRequestId: string | null;
  /** Just-in-time access as the caller may use it; null when the caller may not request this target. */
  jit: { maxDurationSeconds: number; minApprovals: number } | null;
  /** The caller is one of the target's JIT approvers. */
  canApproveAccess: boolean;
  /** The caller decides held statements on this target. */
  canApproveStatements: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Sessions

export interface TlsMaterial {
  sslmode: SslMode;
  /** "system" to trust the default CA store; null when `ca` is given or verification is off. */
  sslrootcert: 'system' | null;
  /** The trusted CA certificates (PEM), read by the hub from the configured sslrootcert file. */
  ca: string | null;
  /** The name checked against the server certificate instead of the host. */
  sslservername: string | null;
}

/**
 * How the tunnel proves itself to the target as `user`. The target's own secret never leaves the hub:
 * - `delegated`: the tunnel runs the server's authentication exchange and asks the hub to answer each
 *   challenge for that one connection (POST /v1/sessions/:id/proofs): SCRAM-SHA-256(-PLUS) or md5.
 */
export type UpstreamAuthentication = { kind: 'delegated'; methods: ProofMethod[] };

/** What a tunnel that enforces the policy itself needs to reach the target. Holds no secret. */
export interface ConnectionMaterial {
  kind: 'postgres';
  host: string;
  port: number;
  database: string;
  /** The database role the session uses: the target's, or one provisioned for this session. */
  user: string;
  tls: TlsMaterial;
  authentication: UpstreamAuthentication;
  /** The SSH target the tunnel reaches the database through (a bastion), or null. */
  via: SshHopMaterial | null;
}

/**
 * Where an SSH target is and which host keys it must present. Holds no secret: the key the tunnel signs
 * in with stays at the hub, which signs each connection's sign-in request for it.
 */
export interface SshConnectionMaterial {
  kind: 'ssh';
  host: string;
  port: number;
  user: string;
  /** The server's pinned host keys ("ssh-ed25519 AAAA…"): any other ends the connection. */
  hostKeys: string[];
  /** The public key ("ssh-ed25519 AAAA…") the hub signs with for this target. */
  publicKey: string;
  /** Each connection's sign-in is signed by the hub (proof method `ssh-signature`). */
  authentication: { kind: 'delegated'; methods: ['ssh-signature'] };
}

/** A bastion a Postgres target is reached through: an SSH target of the catalogue. */
export interface SshHopMaterial extends Omit<SshConnectionMaterial, 'kind'> {
  targetId: string;
}

/**
 * Where a tunnel of a target enforced at a relay connects instead: the relay (over TLS, its certificate
 * verified), authenticating with the user's access token for this session. Nothing about the database.
 */
export interface RelayMaterial {
  kind: 'relay';
  host: string;
  port: number;
  /** The target's database, by name (for the client's connection string). */
  database: string;
  /** Always verify-full. */
  tls: TlsMaterial;
}

/**
 * Where the policy is enforced: `local` by the user's own tunnel (protects against mistakes, runaway
 * agents and other local processes); `relay` by a relay next to the databases, which alone holds the way
 * in (protects against a client machine that is not trusted).
 */
export type Enforcement = 'local' | 'relay';

export type PolicySpec =
  | { kind: 'preset'; name: PolicyPreset }
  /** A policy file's YAML, read by the hub; `name` is the file as written in hub.yaml. */
  | { kind: 'file'; name: string; yaml: string };

export interface OpenedSession {
  sessionId: string;
  targetId: string;
  openedAt: string;
  enforcement: Enforcement;
  /** The database or SSH server (`local`), or the relay that alone reaches the database (`relay`). */
  connection: ConnectionMaterial | SshConnectionMaterial | RelayMaterial;
  policy: PolicySpec;
  /** The JIT grant the session rides on (it closes when the grant ends); null with standing access. */
  grant: { requestId: string; expiresAt: string } | null;
  /**
   * The database role created for this session alone (`connection.user`), valid until the grant's end or
   * a lease the hub renews while the session is open, and dropped when it ends; null when the session
   * uses the target's own role.
   */
  provisioned: { role: string; validUntil: string } | null;
  /** How long a held statement waits for an approver by default. */
  holdTimeoutSeconds: number;
}

export type SessionStatus = 'open' | 'closing' | 'closed';
export type ChainStatus = z.output<typeof requests.chainStatus>;

export interface SessionSummary {
  id: string;
  /**
   * For one connection through a relay: the session it belongs to (the user's tunnel's). The relay
   * records such a connection in a session of its own.
   */
  parentId: string | null;
  targetId: string;
  subject: string;
  displayName: string;
  kind: IdentityKind;
  openedAt: string;
  closedAt: string | null;
  /** Why the session closed, or why the hub asks the tunnel to close it (status `closing`). */
  closeReason: string | null;
  status: SessionStatus;
  grantId: string | null;
  chainStatus: ChainStatus;
  /** The last seq of the verified, gap-free prefix of the recording. */
  lastSeq: number;
  /** The highest seq received (beyond lastSeq when events arrived out of order). */
  maxSeq: number;
  eventCount: number;
  statementCount: number;
  deniedCount: number;
  heldCount: number;
  anomalyCount: number;
}

/**
 * A session the tunnel must end now: its grant expired or was revoked; for a connection a relay serves,
 * also the user's session it belongs to having closed.
 */
export interface SessionToClose {
  sessionId: string;
  subject: string;
  targetId: string;
  grantId: string | null;
  reason: 'grant-expired' | 'grant-revoked' | 'session-closed';
}

// ---------------------------------------------------------------------------------------------------
// Delegated authentication: the hub answers one connection's challenge (POST /v1/sessions/:id/proofs)

/** The challenges the hub answers (see requests/proofs.ts). */
export type ProofMethod = z.output<typeof requests.proofMethod>;

/** Why the tunnel opens the connection the proof is for (recorded at the hub). */
export type ConnectionPurpose = z.output<typeof requests.connectionPurpose>;

/** POST /v1/sessions/:id/proofs: the challenge of one connection, by method. */
export type ProofRequest = z.output<typeof requests.proofRequest>;

export type Proof =
  | {
      method: 'postgres-scram-sha-256';
      /** The client-final-message to send, proof included: valid only for this server nonce. */
      clientFinal: string;
      /** The server-final-message to expect ("v=…"): the server must prove it knows the password too. */
      serverFinal: string;
    }
  | {
      method: 'postgres-md5';
      /** The PasswordMessage's content ("md5…") for this salt. */
      response: string;
    }
  | {
      method: 'ssh-signature';
      /** The signature (the raw signature blob ssh2 and OpenSSH put in the request), base64. */
      signature: string;
    };

/** One delegation, as the hub recorded it. */
export interface ProofRecord {
  id: number;
  sessionId: string;
  connection: number;
  purpose: ConnectionPurpose;
  method: ProofMethod;
  /** The database role (or, for an SSH signature, the SSH user) the proof was for. */
  user: string;
  /** Who asked: the session's owner (or, for relay targets, the relay). */
  requester: Actor;
  at: string;
}

// ---------------------------------------------------------------------------------------------------
// Relays: POST /v1/relay/connections, called by a relay for each client connection it accepts

/** What a relay presents for a connection: the session it names and the user's own access token. */
export type RelayConnectionInput = z.output<typeof requests.relayConnectionInput>;

/** The connections a relay still serves (POST /v1/relay/leases): their leases are renewed. */
export type RelayLeaseInput = z.output<typeof requests.relayLeaseInput>;

export interface RelayLeaseResult {
  /** How long from now each renewed connection stays open without another renewal. */
  leaseSeconds: number;
  /** Of those named, the ones the hub has closed or does not know: the relay ends them. */
  closed: { sessionId: string; reason: string }[];
}

/** Everything a relay needs to serve one admitted connection. */
export interface RelayAdmission {
  /** The connection's own session: the relay records into it, and its upstream is proven for it. */
  connectionSessionId: string;
  /** The user's session the connection belongs to. */
  sessionId: string;
  owner: { subject: string; name: string; kind: IdentityKind };
  target: { id: string; name: string };
  connection: ConnectionMaterial;
  policy: PolicySpec;
  grant: { requestId: string; expiresAt: string } | null;
  holdTimeoutSeconds: number;
}

// ---------------------------------------------------------------------------------------------------
// Recordings

/** One recorded event as the tunnel sends it (see recording-chain.ts for the hash). */
export type RecordingEventInput = z.output<typeof requests.recordingEventInput>;

export interface RecordedEvent extends RecordingEventInput {
  /** true: verified against its predecessor; false: tampered or mislinked; null: predecessor missing. */
  chainOk: boolean | null;
  receivedAt: string;
}

export interface IngestResult {
  /** Events stored by this call. */
  stored: number;
  /** Resent events already stored with the same hash: ignored. */
  duplicates: number;
  /** Resent events with a different hash than the stored one: kept aside as anomalies. */
  conflicts: number;
  chainStatus: ChainStatus;
  /** The end of the verified gap-free prefix: the tunnel's outbox may forget events up to here. */
  lastSeq: number;
}

export type AnomalyKind = 'tampered' | 'prev-mismatch' | 'conflict' | 'gap';

export interface RecordingAnomaly {
  id: number;
  sessionId: string;
  seq: number | null;
  kind: AnomalyKind;
  /** What was found: for a conflict, the event that was refused. */
  detail: Record<string, unknown>;
  detectedAt: string;
}

// ---------------------------------------------------------------------------------------------------
// Just-in-time access

/** POST body of a new access request. */
export type AccessRequestInput = z.output<typeof requests.accessRequestInput>;

/** Where an approver decided: the desktop app's window, a native notification's action, the CLI. */
export type DecisionChannel = z.output<typeof requests.decisionChannel>;

export const DECISION_CHANNELS: readonly DecisionChannel[] = decisionChannel.options;

/** An approver's decision on an access request or a held statement. */
export type DecisionInput = z.output<typeof requests.decisionInput>;

export type AccessRequestState = 'pending' | 'approved' | 'denied' | 'expired' | 'revoked' | 'cancelled';

export interface AccessDecision {
  approver: Actor;
  approve: boolean;
  comment: string | null;
  at: string;
  via: DecisionChannel | null;
}

export interface AccessRequest {
  id: string;
  targetId: string;
  requester: Actor;
  reason: string;
  durationSeconds: number;
  state: AccessRequestState;
  createdAt: string;
  /** When the request was approved or denied. */
  decidedAt: string | null;
  /** For an approved grant: decidedAt + duration. */
  expiresAt: string | null;
  minApprovals: number;
  decisions: AccessDecision[];
  /** Who cancelled or revoked it, and why. */
  closedBy: Actor | null;
  closeComment: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Held statements

/** What a held statement will touch, for the approver (see requests/holds.ts). */
export type HoldContext = z.output<typeof requests.holdContext>;

/** What the tunnel sends when its policy holds a statement. */
export type HoldInput = z.output<typeof requests.holdInput>;

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';

export interface Approval {
  id: string;
  sessionId: string;
  targetId: string;
  requester: Actor;
  sql: string;
  classes: string[];
  rule: string;
  state: ApprovalState;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: Actor | null;
  comment: string | null;
  /** Where the approver decided, when their client said. */
  decidedVia: DecisionChannel | null;
  /** What the statement touches, when the tunnel could tell. */
  context: HoldContext | null;
  /** How many held statements wait on this decision: identical ones of one session are collapsed. */
  holds: number;
}

// ---------------------------------------------------------------------------------------------------
// Live events (the SSE stream)

export type HubEventType =
  | 'access.requested'
  | 'access.updated'
  | 'access.decided'
  | 'access.expiring'
  | 'access.expired'
  | 'access.revoked'
  | 'access.cancelled'
  | 'approval.requested'
  | 'approval.updated'
  | 'approval.decided'
  | 'session.revoked';

/** One event of the stream; `id` is the SSE id (resume with Last-Event-ID). */
export interface HubEvent {
  id: number;
  type: HubEventType;
  payload: Record<string, unknown>;
  createdAt: string;
}

// ---------------------------------------------------------------------------------------------------
// Audit

/** GET /v1/sessions: which sessions to list (see requests/sessions.ts). */
export type SessionSearch = z.output<typeof requests.sessionSearch>;

/** One line of the JSON-lines export. */
export type ExportLine =
  | { kind: 'session'; session: SessionSummary }
  | { kind: 'event'; sessionId: string; event: RecordedEvent }
  | { kind: 'anomaly'; anomaly: RecordingAnomaly };

// ---------------------------------------------------------------------------------------------------
// HTTP (hub/http): request bodies and answers not covered above. Routes are listed in hub/http/routes.ts.

/** GET /healthz (unauthenticated). */
export interface Health {
  status: 'ok';
}

/**
 * GET /v1/identity (unauthenticated): how to sign in to this hub, so that `portcullis login --hub URL` and
 * the desktop app need nothing else.
 */
export interface HubIdentity {
  issuer: string;
  /** The audience (resource) of the hub's access tokens. */
  audience: string;
  /** The public client for people (authorization code + PKCE with a loopback redirect). */
  clientId: string;
  groupsClaim: string;
}

/** GET /v1/me: the caller as the hub sees them, with the hub-wide roles their groups give. */
export interface Me extends Identity {
  /** Sees the whole catalogue, closes anyone's session, revokes any grant. */
  admin: boolean;
  /** Reads everyone's sessions and recordings (admins too). */
  auditor: boolean;
}

/** The JSON body of every error response. `error` is a stable code, `message` is for people. */
export interface ApiError {
  error: string;
  message: string;
  /** For `invalid`: the offending input, e.g. `events[3].hash` or `timeout`. */
  field?: string;
}

/** POST /v1/sessions */
export type OpenSessionInput = z.output<typeof requests.openSessionInput>;

/** POST /v1/sessions/:id/close */
export type CloseSessionInput = z.output<typeof requests.closeSessionInput>;

/** POST /v1/sessions/:id/recordings: one batch of the tunnel's outbox (at most 5000 events). */
export type RecordingBatch = z.output<typeof requests.recordingBatch>;

/** POST /v1/access-requests/:id/revoke (cancels a pending request, revokes a grant). */
export type RevokeInput = z.output<typeof requests.revokeInput>;

/** POST /v1/approvals/:id/withdraw */
export type WithdrawInput = z.output<typeof requests.withdrawInput>;

/** GET /v1/access-requests?scope= : the caller's own, or those waiting for the caller's decision. */
export type AccessRequestScope = z.output<typeof requests.accessRequestScope>;
/** GET /v1/approvals?scope= : held statements waiting for the caller's decision, or the caller's own. */
export type ApprovalScope = z.output<typeof requests.approvalScope>;

/**
 * GET /v1/policy-checks (admins): whether each target's policy names only what its database has.
 * `problems`: names the database lacks (no session opens on the target until they are fixed);
 * `unchecked`: the hub could not read the policy file or reach the database (`error` says why) — the
 * tunnel still checks for itself when it opens.
 */
export interface PolicyCheck {
  targetId: string;
  /** The preset, or the policy file as hub.yaml names it. */
  policy: string;
  checkedAt: string;
  status: 'ok' | 'problems' | 'unchecked';
  /** Each as "file:line: field: problem" parts. */
  problems: { source: string; field: string; problem: string }[];
  error: string | null;
}
