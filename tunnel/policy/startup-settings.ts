/**
 * Settings a client asks for in its startup packet are judged by the same rules as the SET statement
 * that would make them (settings-catalog.ts): passed when the policy allows that SET, refused — the
 * connection ends with a FATAL naming the setting and why — when it does not. Never dropped in silence.
 */
import type { StartupSetting } from '../postgres/wire/startup-options.ts';
import type { Decision } from './decision-point.ts';
import { judgeStatement, type Policy } from './policy.ts';
import { normalizeSettingName, settingClass, settingFailure } from './settings-catalog.ts';
import type { StatementClass } from './classifier.ts';

/** Why a setting of this name is not allowed, for the client's FATAL; the class's reason otherwise. */
const WHY: Record<string, string> = {
  search_path:
    'Portcullis judges statements and plans masking by looking names up as a session with the ' +
    "server's default search_path would; under another path an unqualified name could reach a " +
    'table or function other than the one it checked. Qualify names with their schema instead ' +
    '(an empty search_path, or one of only pg_catalog, is allowed)',
  role: 'it changes whose privileges the session uses',
  session_authorization: 'it changes who the session is',
  session_replication_role: 'it switches off triggers and foreign-key checks',
};

const CLASS_WHY: Partial<Record<StatementClass, string>> = {
  privilege: "it changes privileges or what the server's own audit trail records",
  'server-access': 'it loads code into the server',
};

/** How the policy answers `SET name = value` had the client sent it once connected. */
export function judgeStartupSetting(policy: Policy, setting: StartupSetting): Decision {
  const name = normalizeSettingName(setting.name);
  const failure = settingFailure(name, setting.value);
  if (failure !== undefined) {
    return { action: 'deny', rule: 'fail-closed', message: failure, classes: ['unknown'] };
  }
  const cls = settingClass(name, setting.value);
  const judgement = judgeStatement(policy, { classes: new Set([cls]), tables: [], writes: [] });
  const classes = [cls];
  if (judgement.verdict === 'allow') return { action: 'allow', rule: judgement.rule, classes };
  if (policy.preset === 'observe') {
    const wouldHave = judgement.verdict === 'block' ? 'deny' : 'hold';
    return { action: 'allow', rule: 'observe', classes, wouldHave };
  }
  const message =
    judgement.verdict === 'block'
      ? (WHY[name] ?? CLASS_WHY[cls] ?? `${cls} settings are not allowed by this policy`)
      : `${cls} settings need approval, which cannot be asked for while connecting; SET it once connected to ask`;
  return { action: 'deny', rule: judgement.rule, message, classes };
}
