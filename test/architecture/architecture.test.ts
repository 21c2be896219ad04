/**
 * The shape of the code, enforced: the layering lint rule fires on an import that runs up the order
 * (scripts/layers.mjs), the function-length rule on a function over the limit (scripts/function-length.mjs),
 * there are no import circles, and docs/architecture.md shows the rooms and imports the code has today.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCircular } from 'dpdm';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagram, DOC, importTree, ROOT, withDiagram } from '../../scripts/architecture-diagram.ts';
import { MAX_FUNCTION_LINES } from '../../scripts/function-length.mjs';

let tree: Awaited<ReturnType<typeof importTree>>;
beforeAll(async () => {
  tree = await importTree();
}, 120_000);

async function lintAs(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the layering rule', () => {
  const cases: [string, string, boolean][] = [
    ['tunnel/policy/probe.ts', "import { TunnelManager } from '../manager/tunnel-manager.ts';", false],
    ['tunnel/policy/probe.ts', "import { Session } from '../postgres/session.ts';", false],
    ['tunnel/postgres/wire/framer.ts', "import { PolicyEngine } from '../../policy/engine.ts';", false],
    ['tunnel/postgres/session-probe.ts', "import { PolicyEngine } from '../policy/engine.ts';", true],
    ['tunnel/policy/probe.ts', "import { readRowDescription } from '../postgres/wire/results.ts';", true],
    ['tunnel/postgres/wire/probe.ts', "import { Session } from '../session.ts';", false],
    ['tunnel/recorder/probe.ts', "import { classify } from '../policy/classifier.ts';", false],
    ['tunnel/manager/probe.ts', "import { startEngine } from '../runtime/engine.ts';", false],
    ['tunnel/runtime/probe.ts', "import { main } from '../cli.ts';", false],
    ['tunnel/runtime/probe.ts', "import { buildHubApp } from '../../hub/http/app.ts';", false],
    ['tunnel/commands/probe.ts', "import { buildHubApp } from '../../hub/http/app.ts';", false],
    ['tunnel/commands/hub.ts', "import { buildHubApp } from '../../hub/http/app.ts';", true],
    ['tunnel/manager/probe.ts', "import type { Identity } from '../../hub/api/types.ts';", true],
    ['tunnel/manager/probe.ts', "import { classify } from '../policy/classifier.ts';", true],
    ['tunnel/postgres/session-probe.ts', "import { classify } from '../policy/classifier.ts';", true],
    ['tunnel/ssh/probe.ts', "import { classifyExec } from '../policy/shell/exec-classifier.ts';", true],
    ['tunnel/ssh/probe.ts', "import { TunnelManager } from '../manager/tunnel-manager.ts';", false],
    ['tunnel/ssh/probe.ts', "import { PostgresTunnel } from '../postgres/tunnel.ts';", false],
    ['tunnel/postgres/probe.ts', "import { SshTunnel } from '../ssh/ssh-tunnel.ts';", false],
    ['tunnel/manager/probe.ts', "import { SshTunnel } from '../ssh/ssh-tunnel.ts';", true],
    ['renderer/src/probe.ts', "import { classify } from '../../tunnel/policy/classifier.ts';", false],
    ['main/services/probe.ts', "import { ipcMain } from 'electron';", false],
  ];
  for (const [file, code, allowed] of cases) {
    it(`${allowed ? 'allows' : 'refuses'} ${code} in ${file}`, async () => {
      const messages = await lintAs(
        file,
        `${code}\nexport const used = [${/\{ (?:type )?(\w+)/.exec(code)![1]}];\n`,
      );
      const layering = messages.filter((m) => /boundaries|no-restricted-imports/.test(m));
      if (allowed) expect(layering).toEqual([]);
      else expect(layering.length, messages.join('\n')).toBeGreaterThan(0);
    });
  }
});

describe('the function-length rule', () => {
  /** A function of `lines` statements: as many lines of code, with its two braces. */
  const functionOf = (lines: number): string =>
    `export function long(): number {\n  let n = 0;\n${'  n++;\n'.repeat(lines - 4)}  return n;\n}\n`;
  const lengthFindings = async (file: string, lines: number) =>
    (await lintAs(file, functionOf(lines))).filter((m) => m.startsWith('max-lines-per-function'));

  it(`refuses a function over ${MAX_FUNCTION_LINES} lines of code, and takes one of ${MAX_FUNCTION_LINES}`, async () => {
    expect(await lengthFindings('tunnel/policy/probe.ts', MAX_FUNCTION_LINES + 1)).toHaveLength(1);
    expect(await lengthFindings('hub/services/probe.ts', MAX_FUNCTION_LINES)).toEqual([]);
  });

  it('does not count tests or benchmarks', async () => {
    expect(await lengthFindings('test/policy/probe.test.ts', 200)).toEqual([]);
    expect(await lengthFindings('bench/probe.ts', 200)).toEqual([]);
  });
});

describe('imports', () => {
  it('form no circles', () => {
    expect(parseCircular(tree)).toEqual([]);
  });

  it('are drawn in docs/architecture.md as the code has them', () => {
    const document = readFileSync(DOC, 'utf8');
    expect(document, 'run: npx tsx scripts/architecture-diagram.ts --write').toBe(
      withDiagram(document, diagram(tree)),
    );
  });
});
