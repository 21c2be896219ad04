/** What the value detectors are called, the labels they write, and the spans they report. */

export type DetectorName = 'card' | 'email' | 'ssn' | 'iban' | 'phone' | 'secret';

export const DETECTOR_NAMES: readonly DetectorName[] = Object.freeze([
  'card',
  'email',
  'ssn',
  'iban',
  'phone',
  'secret',
] as const);

/** Default replacement text per detector. */
export const DEFAULT_LABELS: Readonly<Record<DetectorName, string>> = Object.freeze({
  card: '[card]',
  email: '[email]',
  ssn: '[ssn]',
  iban: '[iban]',
  phone: '[phone]',
  secret: '[secret]',
});

/** A detected span, as byte offsets into the cell: [start, end). */
export interface Detection {
  detector: DetectorName;
  start: number;
  end: number;
}
