/**
 * The one contract between the renderer and the main process.
 *
 * The renderer imports the *types* from here (never electron, never node); the preload implements
 * `PortcullisApi` over `ipcRenderer` (preload/client.ts builds it from two functions); main registers one
 * validated handler per channel in `IpcContract` and pushes `PushContract` messages. Adding a capability
 * means adding a channel here first; the compiler then points at the preload and main code that is missing.
 *
 * What crosses is plain data. Errors cross as values ({ok: false, code, message}), because Electron keeps
 * only the message of a thrown Error. Tokens, refresh tokens and target credentials never cross; a
 * tunnel's local secret crosses only through `tunnels.revealSecret`, when the person asks to see it.
 *
 * This file must stay free of imports: it is compiled for the renderer (tsconfig.web.json) and bundled
 * into the sandboxed preload.
 */

export type Platform = 'darwin' | 'linux' | 'win32' | 'other';

// ---------------------------------------------------------------------------------------------------
// Results

export type ErrorCode =
  /** The arguments were refused by main's validation, or the hub refused them as malformed. */
  | 'invalid'
  /** Not allowed: not an approver, not entitled, your own request. */
  | 'refused'
  /** Nobody is signed in, or the sign-in ended. */
  | 'not-signed-in'
  /** The hub (or the identity provider) cannot be reached. */
  | 'unreachable'
  | 'not-found'
  /** Someone else was first, or the thing is in another state now. */
  | 'conflict'
  /** The tunnel's port is taken by another program. */
  | 'port-in-use'
  /** The person cancelled (a sign-in, a file dialog). */
  | 'cancelled'
  | 'failed';

export type Result<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

// ---------------------------------------------------------------------------------------------------
// The state main pushes

export interface Person {
  subject: string;
  name: string;
  groups: string[];
  admin: boolean;
  auditor: boolean;
}

export type AccountView =
  | { state: 'starting' }
  | { state: 'signed-out'; hubUrl: string; error: string | null }
  | { state: 'signing-in'; hubUrl: string; authorizationUrl: string | null }
  | { state: 'signed-in'; hubUrl: string; me: Person };

export interface HubView {
  /** Whether the hub answered lately: its event stream is connected, or the last call succeeded. */
  status: 'unknown' | 'reachable' | 'unreachable';
  /** Why it is unreachable, for people. */
  message: string | null;
  /** Since when it has been in this status. */
  since: string | null;
  /** Recorded events not yet acknowledged by the hub; whether syncing is failing. */
  sync: { pending: number; failing: boolean };
}

export type TargetStatus = 'standing' | 'granted' | 'pending' | 'requestable' | 'none';

export interface TargetView {
  id: string;
  name: string;
  kind: string;
  address: string;
  database: string;
  policy: string;
  status: TargetStatus;
  usable: boolean;
  grantExpiresAt: string | null;
  pendingRequestId: string | null;
  jit: { maxDurationSeconds: number; minApprovals: number } | null;
  /** The stable local port remembered for this target, if any. */
  port: number | null;
  /** A tunnel to it is open in this app. */
  connected: boolean;
}

export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface TargetsView {
  status: LoadStatus;
  items: TargetView[];
  error: string | null;
}

export interface TunnelStatsView {
  /** Client connections open now. */
  open: number;
  connections: number;
  refused: number;
  statements: number;
  blocked: number;
  held: number;
  maskedCells: number;
  bytesFromClient: number;
  bytesToClient: number;
}

/** How a client reaches a tunnel. `password` is masked here; copying puts the real one on the clipboard. */
export interface ConnectionView {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
  psql: string;
  uri: string;
  jdbc: string;
}

export type ConnectionField = 'psql' | 'uri' | 'jdbc' | 'host' | 'port' | 'user' | 'database' | 'password';

export interface HoldContextView {
  tables: string[];
  writes: string[];
  estimatedRows: number | null;
}

export type HoldState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'timeout' | 'cancelled';

export interface HoldView {
  id: string;
  sql: string;
  rule: string;
  state: HoldState;
  heldAt: string;
  decidedBy: string | null;
  comment: string | null;
  context: HoldContextView | null;
}

export interface TunnelView {
  targetId: string;
  targetName: string;
  sessionId: string;
  policy: string;
  grantExpiresAt: string | null;
  openedAt: string;
  state: 'open' | 'closing' | 'closed';
  closed: { cause: string; reason: string } | null;
  connection: ConnectionView;
  stats: TunnelStatsView;
  /** Statements of this tunnel that were held, newest first. */
  holds: HoldView[];
}

export type DecisionChannel = 'app' | 'notification' | 'cli';

export interface StatementApproval {
  kind: 'statement';
  id: string;
  targetId: string;
  requester: { subject: string; name: string };
  sql: string;
  classes: string[];
  rule: string;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decidedVia: DecisionChannel | null;
  comment: string | null;
  context: HoldContextView | null;
  /** How many held statements this one decision releases (identical ones of a session wait together). */
  holds: number;
}

export interface AccessApproval {
  kind: 'access';
  id: string;
  targetId: string;
  requester: { subject: string; name: string };
  reason: string;
  durationSeconds: number;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'revoked' | 'cancelled';
  createdAt: string;
  /** For an approved grant: when it ends. */
  expiresAt: string | null;
  minApprovals: number;
  decisions: {
    approver: string;
    approve: boolean;
    comment: string | null;
    at: string;
    via: DecisionChannel | null;
  }[];
}

export type ApprovalItem = StatementApproval | AccessApproval;
export type ApprovalKind = ApprovalItem['kind'];

export interface ApprovalsView {
  status: LoadStatus;
  error: string | null;
  /** What waits for my decision, oldest first. */
  waiting: ApprovalItem[];
  /** My own held statements and access requests, newest first. */
  mine: ApprovalItem[];
}

export interface Preferences {
  hubUrl: string;
  notifications: {
    /** Held statements and access requests waiting for my decision. */
    approvals: boolean;
    /** My statements held, approved or denied. */
    statements: boolean;
    /** My access requests granted or denied, and grants about to end. */
    access: boolean;
  };
  /** Closing the window keeps the app (and its tunnels) running in the tray. */
  closeToTray: boolean;
  startAtLogin: boolean;
}

export interface AppState {
  account: AccountView;
  hub: HubView;
  targets: TargetsView;
  tunnels: TunnelView[];
  approvals: ApprovalsView;
  preferences: Preferences;
}

// ---------------------------------------------------------------------------------------------------
// Sessions (recordings)

export interface SessionQuery {
  text?: string;
  targetId?: string;
  subject?: string;
  /** ISO-8601: sessions opened at or after. */
  from?: string;
  decision?: 'denied' | 'held';
  limit?: number;
}

export interface SessionRow {
  id: string;
  targetId: string;
  subject: string;
  displayName: string;
  kind: 'person' | 'agent';
  openedAt: string;
  closedAt: string | null;
  closeReason: string | null;
  status: 'open' | 'closing' | 'closed';
  chainStatus: 'ok' | 'broken' | 'incomplete';
  statementCount: number;
  deniedCount: number;
  heldCount: number;
  anomalyCount: number;
}

export type TimelineKind =
  'tunnel' | 'connection' | 'statement' | 'denied' | 'hold' | 'decision' | 'result' | 'error' | 'other';

export interface TimelineEntryView {
  seq: number;
  at: string;
  kind: TimelineKind;
  connection: number | null;
  text: string;
  /** `text` without the statement, which `sql` holds. */
  summary: string;
  sql: string | null;
  maskedCells: number;
  chain: 'ok' | 'tampered' | 'unverified';
}

export interface ReplayView {
  session: SessionRow;
  entries: TimelineEntryView[];
  /** The chain's verdict in one sentence. */
  chain: string;
  anomalies: { seq: number | null; kind: string; detail: string }[];
  truncated: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Channels

export interface RequestAccessInput {
  targetId: string;
  reason: string;
  /** "30m", "1h", …; the target's maximum when absent. */
  duration?: string;
}

export interface DecideInput {
  kind: ApprovalKind;
  id: string;
  approve: boolean;
  comment?: string;
}

/** Every invoke channel, with the arguments the renderer sends and the value main answers with. */
export interface IpcContract {
  'app:version': { args: []; result: string };
  'app:platform': { args: []; result: Platform };
  'app:state': { args: []; result: AppState };
  'account:sign-in': { args: [hubUrl: string]; result: Person };
  'account:cancel-sign-in': { args: []; result: null };
  'account:sign-out': { args: []; result: null };
  'targets:refresh': { args: []; result: TargetView[] };
  'targets:request-access': { args: [input: RequestAccessInput]; result: AccessApproval };
  'targets:cancel-request': { args: [requestId: string]; result: AccessApproval };
  'tunnels:connect': { args: [targetId: string, port?: number]; result: TunnelView };
  'tunnels:disconnect': { args: [targetId: string]; result: null };
  'tunnels:set-port': { args: [targetId: string, port: number]; result: number };
  'tunnels:copy': { args: [targetId: string, field: ConnectionField]; result: null };
  'tunnels:reveal-secret': { args: [targetId: string]; result: string };
  'approvals:refresh': { args: []; result: ApprovalsView };
  'approvals:get': { args: [kind: ApprovalKind, id: string]; result: ApprovalItem };
  'approvals:decide': { args: [input: DecideInput]; result: ApprovalItem };
  'sessions:search': { args: [query: SessionQuery]; result: SessionRow[] };
  'sessions:replay': { args: [sessionId: string]; result: ReplayView };
  'sessions:export': { args: [sessionId: string]; result: { path: string; lines: number } };
  'settings:update': { args: [changes: PreferencesChange]; result: Preferences };
}

export interface PreferencesChange {
  hubUrl?: string;
  notifications?: Partial<Preferences['notifications']>;
  closeToTray?: boolean;
  startAtLogin?: boolean;
}

export type IpcChannel = keyof IpcContract;
export type IpcArgs<C extends IpcChannel> = IpcContract[C]['args'];
export type IpcValue<C extends IpcChannel> = IpcContract[C]['result'];
export type IpcResult<C extends IpcChannel> = Result<IpcValue<C>>;

/** The channel names, as values, so main can check it registered exactly these. */
export const ipcChannels = [
  'app:version',
  'app:platform',
  'app:state',
  'account:sign-in',
  'account:cancel-sign-in',
  'account:sign-out',
  'targets:refresh',
  'targets:request-access',
  'targets:cancel-request',
  'tunnels:connect',
  'tunnels:disconnect',
  'tunnels:set-port',
  'tunnels:copy',
  'tunnels:reveal-secret',
  'approvals:refresh',
  'approvals:get',
  'approvals:decide',
  'sessions:search',
  'sessions:replay',
  'sessions:export',
  'settings:update',
] as const satisfies readonly IpcChannel[];

/** Where main can send the renderer to (a notification clicked, a portcullis:// link, the tray). */
export type Destination =
  | { screen: 'approvals'; kind?: ApprovalKind; id?: string }
  | { screen: 'tunnel'; targetId: string }
  | { screen: 'targets' }
  | { screen: 'sessions'; sessionId?: string };

/** What main pushes: a full state, or the top-level parts of it that changed. */
export type StatePush = { kind: 'snapshot'; state: AppState } | { kind: 'patch'; patch: Partial<AppState> };

export interface PushContract {
  'push:state': StatePush;
  'push:navigate': Destination;
}

export type PushChannel = keyof PushContract;
export const pushChannels = ['push:state', 'push:navigate'] as const satisfies readonly PushChannel[];

type Call<C extends IpcChannel> = (...args: IpcArgs<C>) => Promise<IpcResult<C>>;

/** The object the preload exposes as `window.portcullis`. */
export interface PortcullisApi {
  app: {
    version: Call<'app:version'>;
    platform: Call<'app:platform'>;
    /** The whole state now; pushes keep it current (onState). */
    state: Call<'app:state'>;
    /** Every state push from main; returns a function that stops listening. */
    onState(listener: (push: StatePush) => void): () => void;
    /** Main asks to show a screen (a notification clicked, a portcullis:// link). */
    onNavigate(listener: (destination: Destination) => void): () => void;
  };
  account: {
    /** Opens the system browser at the hub's identity provider; resolves once signed in. */
    signIn: Call<'account:sign-in'>;
    cancelSignIn: Call<'account:cancel-sign-in'>;
    signOut: Call<'account:sign-out'>;
  };
  targets: {
    refresh: Call<'targets:refresh'>;
    requestAccess: Call<'targets:request-access'>;
    cancelRequest: Call<'targets:cancel-request'>;
  };
  tunnels: {
    connect: Call<'tunnels:connect'>;
    disconnect: Call<'tunnels:disconnect'>;
    setPort: Call<'tunnels:set-port'>;
    /** Puts a connection field (with the real password where it has one) on the clipboard. */
    copy: Call<'tunnels:copy'>;
    /** The tunnel's local secret, for the person who asked to see it. */
    revealSecret: Call<'tunnels:reveal-secret'>;
  };
  approvals: {
    refresh: Call<'approvals:refresh'>;
    get: Call<'approvals:get'>;
    decide: Call<'approvals:decide'>;
  };
  sessions: {
    search: Call<'sessions:search'>;
    replay: Call<'sessions:replay'>;
    /** Asks where to save, then writes the session as JSON lines. */
    export: Call<'sessions:export'>;
  };
  settings: {
    update: Call<'settings:update'>;
  };
}

/** The name of the global the preload defines in the renderer's main world. */
export const apiKey = 'portcullis';
