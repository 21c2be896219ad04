/** One connection field: its value as shown (password masked) and a Copy button that says it worked. */
import { useEffect, useState } from 'react';

export function CopyField({
  label,
  value,
  onCopy,
  multiline = false,
}: {
  label: string;
  value: string;
  onCopy: () => Promise<void>;
  multiline?: boolean;
}) {
  const [copied, setCopied] = useState<'idle' | 'done' | 'failed'>('idle');
  useEffect(() => {
    if (copied === 'idle') return;
    const timer = setTimeout(() => setCopied('idle'), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  const id = `field-${label.replace(/\W+/g, '-').toLowerCase()}`;
  const shown = copied === 'done' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy';
  // The accessible name keeps what the button does and contains what it shows (WCAG 2.5.3).
  const name = copied === 'idle' ? `Copy ${label}` : `Copy ${label}: ${shown}`;
  return (
    <div className={`copy-field${multiline ? ' multiline' : ''}`}>
      <span className="copy-label" id={id}>
        {label}
      </span>
      <code className="copy-value" aria-labelledby={id}>
        {value}
      </code>
      <button
        type="button"
        className="copy-button"
        aria-label={name}
        onClick={() =>
          onCopy().then(
            () => setCopied('done'),
            () => setCopied('failed'),
          )
        }
      >
        {shown}
      </button>
      <span className="visually-hidden" role="status">
        {copied === 'done' ? `${label} copied` : ''}
      </span>
    </div>
  );
}
