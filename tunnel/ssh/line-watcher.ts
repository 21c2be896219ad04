/**
 * Reads, in an interactive shell, the command line the person sees when they press Enter: a headless
 * terminal emulator (@xterm/headless) follows the output, so history recall, tab completion and line
 * editing are already applied to the rendered line. The line is only judged and, when risky, flagged in
 * the recording: keystrokes are no reliable command boundary, so nothing typed in a shell is blocked.
 */
import xterm from '@xterm/headless';

/** A prompt ends with `$ `, `# `, `% ` or `> ` (user@host:~$ , root@host:/# , bash-5.2$ ). */
const PROMPT = /^[^$#%>]{0,120}?[$#%>] /;

export class LineWatcher {
  private readonly terminal: InstanceType<typeof xterm.Terminal>;

  constructor(cols: number, rows: number) {
    this.terminal = new xterm.Terminal({
      cols: clamp(cols),
      rows: clamp(rows),
      scrollback: 100,
      allowProposedApi: true,
    });
  }

  output(bytes: Buffer): void {
    this.terminal.write(bytes);
  }

  resize(cols: number, rows: number): void {
    this.terminal.resize(clamp(cols), clamp(rows));
  }

  /** The command on the cursor's line once all output so far is rendered; undefined in full-screen apps. */
  currentCommand(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.terminal.write('', () => resolve(this.readLine()));
    });
  }

  dispose(): void {
    this.terminal.dispose();
  }

  private readLine(): string | undefined {
    const buffer = this.terminal.buffer.active;
    if (buffer.type === 'alternate') return undefined;
    let row = buffer.baseY + buffer.cursorY;
    let text = buffer.getLine(row)?.translateToString(true) ?? '';
    // A long command wraps onto several rows.
    while (row > 0 && buffer.getLine(row)?.isWrapped) {
      row--;
      text = (buffer.getLine(row)?.translateToString(false) ?? '') + text;
    }
    const command = text.replace(PROMPT, '').trim();
    return command === '' ? undefined : command;
  }
}

function clamp(size: number): number {
  return Math.min(Math.max(Math.round(size) || 80, 2), 1000);
}
