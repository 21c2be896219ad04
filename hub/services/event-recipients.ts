/** Recipient keys of the event log: who an event is for, by subject or by group. */
export const toSubject = (subject: string): string => `subject:${subject}`;
export const toGroup = (group: string): string => `group:${group}`;
