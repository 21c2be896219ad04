/**
 * What the proxy knows of one SFTP session, request by request: which requests it lets through (all, or
 * only those that cannot change anything under `read-only`), which handle is which file, and how many
 * bytes were read from and written to each. It records opens, closes (with byte totals), directory
 * listings and every change (remove, rename, mkdir, rmdir, setstat, symlink, write extensions).
 */
import type { SessionEvent } from '../../recorder/recording-point.ts';
import {
  describeOpenFlags,
  OpenFlag,
  SftpReader,
  SftpStatus,
  SftpType,
  STATUS_NAMES,
  statusPacket,
} from './sftp-packets.ts';

export interface SftpSessionOptions {
  channel: number;
  readOnly: boolean;
  /** Names the policy in refusals: "web.yaml: ssh.sftp read-only". */
  rule: string;
  record(event: SessionEvent): void;
}

type Decision = { forward: true } | { forward: false; reply: Buffer };

interface Pending {
  op: string;
  path?: string;
  target?: string;
  mode?: string;
  flags?: number;
  handle?: string;
  length?: number;
}

interface OpenHandle {
  path: string;
  directory: boolean;
  mode: string;
  bytesRead: number;
  bytesWritten: number;
}

/** Extensions that only look. Anything else may change files and is refused under read-only. */
const READ_EXTENSIONS = new Set([
  'statvfs@openssh.com',
  'fstatvfs@openssh.com',
  'limits@openssh.com',
  'expand-path@openssh.com',
  'home-directory',
  'users-groups-by-id@openssh.com',
  'fsync@openssh.com',
]);

const WRITING_FLAGS = OpenFlag.WRITE | OpenFlag.APPEND | OpenFlag.CREAT | OpenFlag.TRUNC;
/** A client that keeps this many requests unanswered is not a client the proxy keeps up with. */
const MAX_PENDING = 100_000;

export class SftpSession {
  private readonly pending = new Map<number, Pending>();
  private readonly handles = new Map<string, OpenHandle>();

  constructor(private readonly options: SftpSessionOptions) {}

  /** Judges one client request: forward it, or answer it here with a refusal. */
  request(packet: Buffer): Decision {
    const reader = new SftpReader(packet);
    const type = reader.type;
    if (type === SftpType.INIT) return { forward: true };
    const id = reader.uint32();
    if (this.pending.size >= MAX_PENDING) throw new Error('too many SFTP requests without a reply');
    const entry = this.read(type, reader);
    if (entry === 'look') return { forward: true };
    if (entry.refuse) return this.refuse(id, entry.pending);
    if (entry.pending) this.pending.set(id, entry.pending);
    return { forward: true };
  }

  /** Learns from one server reply (handles, byte counts, outcomes); the reply itself always passes. */
  reply(packet: Buffer): void {
    const reader = new SftpReader(packet);
    if (reader.type === SftpType.VERSION) return;
    const id = reader.uint32();
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    switch (reader.type) {
      case SftpType.HANDLE:
        this.opened(pending, reader.bytes().toString('hex'));
        return;
      case SftpType.DATA:
        if (pending.handle) this.count(pending.handle, 'bytesRead', reader.bytes().length);
        return;
      case SftpType.STATUS:
        this.status(pending, reader.uint32(), reader.string());
        return;
      default:
        return;
    }
  }

  /** The channel ended: files still open are recorded as closed with what moved. */
  end(): void {
    for (const [handle, file] of this.handles) {
      this.closed(file, 'channel closed');
      this.handles.delete(handle);
    }
  }

  private read(type: number, reader: SftpReader): 'look' | { refuse?: boolean; pending?: Pending } {
    const writes = (pending: Pending) => (this.options.readOnly ? { refuse: true, pending } : { pending });
    switch (type) {
      case SftpType.OPEN: {
        const path = reader.string();
        const flags = reader.uint32();
        const pending = { op: 'open', path, flags, mode: describeOpenFlags(flags) };
        return flags & WRITING_FLAGS ? writes(pending) : { pending };
      }
      case SftpType.OPENDIR:
        return { pending: { op: 'opendir', path: reader.string() } };
      case SftpType.CLOSE:
        return { pending: { op: 'close', handle: reader.bytes().toString('hex') } };
      case SftpType.READ:
        return { pending: { op: 'read', handle: reader.bytes().toString('hex') } };
      case SftpType.WRITE: {
        const handle = reader.bytes().toString('hex');
        reader.uint64();
        const pending = { op: 'write', handle, length: reader.bytes().length };
        return writes(pending);
      }
      case SftpType.REMOVE:
      case SftpType.RMDIR:
      case SftpType.MKDIR:
      case SftpType.SETSTAT:
        return writes({ op: OPS[type]!, path: reader.string() });
      case SftpType.FSETSTAT:
        return writes({ op: 'fsetstat', path: this.handles.get(reader.bytes().toString('hex'))?.path });
      case SftpType.RENAME:
      case SftpType.SYMLINK:
        return writes({ op: OPS[type]!, path: reader.string(), target: reader.string() });
      case SftpType.EXTENDED:
        return this.extended(reader.string(), reader);
      case SftpType.STAT:
      case SftpType.LSTAT:
      case SftpType.FSTAT:
      case SftpType.REALPATH:
      case SftpType.READLINK:
      case SftpType.READDIR:
        return 'look';
      default:
        return this.options.readOnly ? { refuse: true, pending: { op: `request ${type}` } } : 'look';
    }
  }

  private extended(name: string, reader: SftpReader): { refuse?: boolean; pending?: Pending } {
    if (READ_EXTENSIONS.has(name)) return {};
    const paths =
      name === 'posix-rename@openssh.com' || name === 'hardlink@openssh.com'
        ? [reader.string(), reader.string()]
        : name === 'lsetstat@openssh.com'
          ? [reader.string()]
          : [];
    const pending: Pending = {
      op: EXTENSION_OPS[name] ?? name,
      ...(paths[0] ? { path: paths[0] } : {}),
      ...(paths[1] ? { target: paths[1] } : {}),
    };
    return this.options.readOnly ? { refuse: true, pending } : { pending };
  }

  private refuse(id: number, pending: Pending | undefined): Decision {
    this.options.record({
      type: 'sftp',
      channel: this.options.channel,
      op: pending?.op ?? 'request',
      ...this.where(pending),
      decision: 'deny',
      status: `refused by ${this.options.rule}`,
    });
    return {
      forward: false,
      reply: statusPacket(
        id,
        SftpStatus.PERMISSION_DENIED,
        `portcullis: sftp is read-only here (${this.options.rule})`,
      ),
    };
  }

  private opened(pending: Pending, handle: string): void {
    const directory = pending.op === 'opendir';
    this.handles.set(handle, {
      path: pending.path ?? '',
      directory,
      mode: pending.mode ?? 'read',
      bytesRead: 0,
      bytesWritten: 0,
    });
    this.options.record({
      type: 'sftp',
      channel: this.options.channel,
      op: pending.op,
      ...this.where(pending),
      decision: 'allow',
      status: 'ok',
    });
  }

  private status(pending: Pending, code: number, message: string): void {
    if (pending.op === 'read' || pending.op === 'write') {
      if (pending.op === 'write' && code === SftpStatus.OK && pending.handle) {
        this.count(pending.handle, 'bytesWritten', pending.length ?? 0);
      }
      return;
    }
    if (pending.op === 'close') {
      const file = pending.handle ? this.handles.get(pending.handle) : undefined;
      if (file) {
        this.handles.delete(pending.handle!);
        this.closed(file, code === SftpStatus.OK ? 'ok' : describeStatus(code, message));
      }
      return;
    }
    this.options.record({
      type: 'sftp',
      channel: this.options.channel,
      op: pending.op,
      ...this.where(pending),
      decision: 'allow',
      status: code === SftpStatus.OK ? 'ok' : describeStatus(code, message),
    });
  }

  private closed(file: OpenHandle, status: string): void {
    this.options.record({
      type: 'sftp',
      channel: this.options.channel,
      op: file.directory ? 'closedir' : 'close',
      path: file.path,
      mode: file.mode,
      decision: 'allow',
      status,
      bytesRead: file.bytesRead,
      bytesWritten: file.bytesWritten,
    });
  }

  private count(handle: string, field: 'bytesRead' | 'bytesWritten', bytes: number): void {
    const file = this.handles.get(handle);
    if (file) file[field] += bytes;
  }

  private where(pending: Pending | undefined): { path?: string; target?: string; mode?: string } {
    return {
      ...(pending?.path !== undefined ? { path: pending.path } : {}),
      ...(pending?.target !== undefined ? { target: pending.target } : {}),
      ...(pending?.mode !== undefined ? { mode: pending.mode } : {}),
    };
  }
}

const OPS: Record<number, string> = {
  [SftpType.REMOVE]: 'remove',
  [SftpType.RMDIR]: 'rmdir',
  [SftpType.MKDIR]: 'mkdir',
  [SftpType.SETSTAT]: 'setstat',
  [SftpType.RENAME]: 'rename',
  [SftpType.SYMLINK]: 'symlink',
};

/** Write extensions by what they do; others are recorded by their name. */
const EXTENSION_OPS: Record<string, string> = {
  'posix-rename@openssh.com': 'rename',
  'hardlink@openssh.com': 'link',
  'lsetstat@openssh.com': 'setstat',
  'copy-data': 'copy',
};

function describeStatus(code: number, message: string): string {
  const name = STATUS_NAMES[code] ?? `status ${code}`;
  return message ? `${name}: ${message}` : name;
}
