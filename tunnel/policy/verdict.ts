/** The words every part of a policy shares: the presets a policy starts from, and what a rule decides. */
export type Preset = 'read-only' | 'guarded' | 'observe';

export type Verdict = 'allow' | 'approve' | 'block';
