import { describe, expect, it } from 'vitest';
import { parsePolicy, PolicyFileError } from '../../tunnel/policy/policy-file.ts';
import { presetPolicy, type Policy } from '../../tunnel/policy/policy.ts';
import { classifyExec } from '../../tunnel/policy/shell/exec-classifier.ts';
import { envAllowed, forwardAllowed, judgeExec } from '../../tunnel/policy/ssh-policy.ts';

const judge = (policy: Policy, command: string) =>
  judgeExec(policy.ssh, policy.preset, classifyExec(command));

const WEB_POLICY = `extends: guarded
ssh:
  shell: approve
  exec:
    block: [{ command: [rm, shutdown] }]
    approve: [{ class: privilege, command: sudo }]
    allow: [write, { class: network, command: curl }]
    unparseable: deny
  sftp: read-only
  forward: ['localhost:5432', 'db.internal:*', '[::1]:6379']
  env: [LANG, 'LC_*', APP_ENV]
  mask_output: [card, email]
  record_input: false
  record_exec_output: 64KiB
`;

describe('the ssh section of a policy file', () => {
  it('reads every key onto the preset', () => {
    const policy = parsePolicy(WEB_POLICY, 'web.yaml');
    expect(policy.ssh.shell).toBe('approve');
    expect(policy.ssh.sftp).toBe('read-only');
    expect(policy.ssh.exec.unparseable).toBe('block');
    expect(policy.ssh.maskOutput).toEqual(['card', 'email']);
    expect(policy.ssh.recordInput).toBe(false);
    expect(policy.ssh.recordExecOutputBytes).toBe(64 * 1024);
    expect(forwardAllowed(policy.ssh, 'localhost', 5432)).toBe(true);
    expect(forwardAllowed(policy.ssh, 'LOCALHOST', 5432)).toBe(true);
    expect(forwardAllowed(policy.ssh, 'localhost', 5433)).toBe(false);
    expect(forwardAllowed(policy.ssh, 'db.internal', 1234)).toBe(true);
    expect(forwardAllowed(policy.ssh, '::1', 6379)).toBe(true);
    expect(forwardAllowed(policy.ssh, 'evil.example', 80)).toBe(false);
    expect(envAllowed(policy.ssh, 'LC_ALL')).toBe(true);
    expect(envAllowed(policy.ssh, 'APP_ENV')).toBe(true);
    expect(envAllowed(policy.ssh, 'LD_PRELOAD')).toBe(false);
  });

  it('judges by command name and class, block beating approve beating allow', () => {
    const policy = parsePolicy(WEB_POLICY, 'web.yaml');
    expect(judge(policy, 'rm -f /tmp/x')).toMatchObject({
      verdict: 'block',
      command: 'rm',
      rule: expect.stringMatching(/^web\.yaml:5 \(block command rm\)/),
    });
    expect(judge(policy, 'shutdown -r now')).toMatchObject({ verdict: 'block', command: 'shutdown' });
    expect(judge(policy, 'sudo systemctl restart nginx')).toMatchObject({
      verdict: 'approve',
      command: 'sudo',
    });
    // The file allows writes; the preset would have held them.
    expect(judge(policy, 'systemctl restart nginx')).toMatchObject({ verdict: 'allow' });
    expect(judge(policy, 'curl -s https://example.com')).toMatchObject({ verdict: 'allow' });
    // Only curl is allowed on the network: wget still needs approval, as the preset says.
    expect(judge(policy, 'wget -q https://example.com')).toMatchObject({
      verdict: 'approve',
      class: 'network',
    });
    // One blocked command blocks the line.
    expect(judge(policy, 'uptime && rm -rf /srv')).toMatchObject({ verdict: 'block' });
    expect(judge(policy, "echo 'open")).toMatchObject({ verdict: 'block', rule: 'unparseable (block)' });
  });

  it('gives the presets SSH defaults', () => {
    const guarded = presetPolicy('guarded');
    expect(guarded.ssh.shell).toBe('allow');
    expect(guarded.ssh.sftp).toBe('allow');
    expect(guarded.ssh.forward).toEqual([]);
    expect(judge(guarded, 'ls -la')).toMatchObject({ verdict: 'allow' });
    expect(judge(guarded, 'systemctl restart nginx')).toMatchObject({
      verdict: 'approve',
      rule: 'preset guarded: write',
    });
    expect(judge(guarded, 'rm -rf /srv')).toMatchObject({
      verdict: 'block',
      rule: 'preset guarded: destructive',
    });
    expect(judge(guarded, 'bash -c "$x"')).toMatchObject({ verdict: 'approve', class: 'dynamic' });
    expect(judge(guarded, "echo 'open")).toMatchObject({ verdict: 'approve' });

    const readOnly = presetPolicy('read-only');
    expect(readOnly.ssh.shell).toBe('deny');
    expect(readOnly.ssh.sftp).toBe('read-only');
    expect(judge(readOnly, 'cat /etc/hostname')).toMatchObject({ verdict: 'allow' });
    expect(judge(readOnly, 'touch x')).toMatchObject({ verdict: 'block' });
    expect(judge(readOnly, './deploy.sh')).toMatchObject({ verdict: 'block', class: 'unknown' });
    expect(judge(readOnly, "echo 'open")).toMatchObject({ verdict: 'block' });

    // observe judges as guarded; the tunnel records what would have happened.
    expect(judge(presetPolicy('observe'), 'rm -rf /')).toMatchObject({
      verdict: 'block',
      rule: 'preset guarded: destructive',
    });
  });

  it('refuses a bad section with its file, line and field', () => {
    const bad = (ssh: string) => () => parsePolicy(`extends: guarded\nssh:\n${ssh}`, 'p.yaml');
    expect(bad('  shell: maybe\n')).toThrow(/^p\.yaml:3: ssh\.shell: must be one of allow, approve, deny$/);
    expect(bad('  sftp: write-only\n')).toThrow(/ssh\.sftp: must be one of allow, read-only, deny/);
    expect(bad('  exec:\n    block: [deleting]\n')).toThrow(
      /^p\.yaml:4: ssh\.exec\.block\[0\]: must be one of read, write/,
    );
    expect(bad('  exec:\n    allow: [{ command: /bin/ls }]\n')).toThrow(
      /ssh\.exec\.allow\[0\]\.command: must be a command name/,
    );
    expect(bad('  exec:\n    unparseable: allow\n')).toThrow(
      /ssh\.exec\.unparseable: must be one of deny, approve/,
    );
    expect(bad('  forward: [localhost]\n')).toThrow(/ssh\.forward\[0\]: must be host:port/);
    expect(bad('  x11: allow\n')).toThrow(/^p\.yaml:3: ssh\.x11: unknown key/);
    expect(bad('  mask_output: [cards]\n')).toThrow(/ssh\.mask_output\[0\]: must be one of card/);
    expect(bad('  record_exec_output: lots\n')).toThrow(/must be a size/);
    expect(bad('  - shell\n')).toThrow(PolicyFileError);
  });
});
