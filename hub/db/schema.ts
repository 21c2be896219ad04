/**
 * The hub's tables as Kysely sees them. The same schema on SQLite and PostgreSQL, so every query is
 * written once: times are ISO-8601 UTC text (fixed width, so they sort and compare as text), booleans are
 * integers 0/1, JSON is text.
 */
import type { ColumnType, Generated } from 'kysely';
import type {
  AccessRequestState,
  AnomalyKind,
  ChainStatus,
  ApprovalState,
  ConnectionPurpose,
  IdentityKind,
  ProofMethod,
  SessionStatus,
} from '../api/types.ts';

export interface SessionsTable {
  id: string;
  target_id: string;
  subject: string;
  display_name: string;
  kind: IdentityKind;
  opened_at: string;
  closed_at: string | null;
  close_reason: string | null;
  /** The JIT grant (access_requests.id) the session rides on; null with standing access. */
  grant_id: string | null;
  /** For one connection a relay serves: the user's session it belongs to. */
  parent_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** For a relay's connection: when it is closed unless its relay renews the lease (relays.ts). */
  lease_expires_at: ColumnType<string | null, string | null | undefined, string | null>;
  status: SessionStatus;
  chain_status: ChainStatus;
  /** End of the verified gap-free prefix of the recording, and the hash of that event. */
  last_seq: number;
  last_hash: string;
  /** Highest seq stored. */
  max_seq: number;
  /** 1 once a tampered, mislinked or conflicting event was seen: the chain stays broken. */
  chain_broken: number;
  /** 1 once a gap outlived the grace period after the session closed. */
  gap_flagged: number;
  event_count: number;
  statement_count: number;
  denied_count: number;
  held_count: number;
  anomaly_count: number;
}

export interface SessionEventsTable {
  session_id: string;
  seq: number;
  at: string;
  type: string;
  /** JSON text. */
  payload: string;
  prev_hash: string;
  hash: string;
  /** 1 verified, 0 tampered or mislinked, null while its predecessor is missing. */
  chain_ok: number | null;
  received_at: string;
}

export interface RecordingAnomaliesTable {
  id: Generated<number>;
  session_id: string;
  seq: number | null;
  kind: AnomalyKind;
  /** JSON text. */
  detail: string;
  detected_at: string;
}

export interface AccessRequestsTable {
  id: string;
  target_id: string;
  requester_subject: string;
  requester_name: string;
  reason: string;
  duration_seconds: number;
  state: AccessRequestState;
  created_at: string;
  decided_at: string | null;
  expires_at: string | null;
  min_approvals: number;
  closed_by_subject: string | null;
  closed_by_name: string | null;
  close_comment: string | null;
  /** When the requester was told the grant is about to expire. */
  expiry_warned_at: string | null;
}

export interface AccessDecisionsTable {
  request_id: string;
  approver_subject: string;
  approver_name: string;
  approve: number;
  comment: string | null;
  at: string;
  via: string | null;
}

export interface CommandApprovalsTable {
  id: string;
  session_id: string;
  target_id: string;
  requester_subject: string;
  requester_name: string;
  sql: string;
  /** JSON array of statement classes. */
  classes: string;
  rule: string;
  state: ApprovalState;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by_subject: string | null;
  decided_by_name: string | null;
  comment: string | null;
  /** JSON HoldContext, or null. */
  context: string | null;
  decided_via: string | null;
  /** The tunnel connection (its number in the session) the statement was held on; null before 0006. */
  connection: number | null;
  /** How many held statements wait on this approval: identical ones of a session join the first. */
  holds: Generated<number>;
}

/** One answer the hub computed for a connection's authentication. */
export interface SessionProofsTable {
  id: Generated<number>;
  session_id: string;
  connection: number;
  purpose: ConnectionPurpose;
  method: ProofMethod;
  /** The database role the proof was for. */
  db_user: string;
  requester_subject: string;
  requester_name: string;
  created_at: string;
}

/** A database role created for one session, until it is dropped. */
export interface ProvisionedRolesTable {
  session_id: string;
  target_id: string;
  role: string;
  /** The role's VALID UNTIL: the grant's end, or the lease renewed while the session is open. */
  valid_until: string;
  created_at: string;
  dropped_at: string | null;
  /** Why the last attempt to create, renew or drop it failed (retried by the sweep). */
  last_error: string | null;
}

/** The live event log (SSE); the id is the stream position. */
export interface EventsTable {
  id: Generated<number>;
  type: string;
  /** JSON text. */
  payload: string;
  created_at: string;
  /** Not delivered to this subject even when one of its groups is a recipient (e.g. the requester). */
  exclude_subject: string | null;
}

/** Who an event is for: "subject:<sub>" or "group:<name>". */
export interface EventRecipientsTable {
  event_id: number;
  recipient: string;
}

/** The hub's periodic jobs (event pruning): when each last ran on any instance. */
export interface HubJobsTable {
  name: string;
  last_run_at: string;
}

export interface HubSchema {
  sessions: SessionsTable;
  session_events: SessionEventsTable;
  recording_anomalies: RecordingAnomaliesTable;
  access_requests: AccessRequestsTable;
  access_decisions: AccessDecisionsTable;
  command_approvals: CommandApprovalsTable;
  events: EventsTable;
  event_recipients: EventRecipientsTable;
  hub_jobs: HubJobsTable;
  session_proofs: SessionProofsTable;
  provisioned_roles: ProvisionedRolesTable;
}
