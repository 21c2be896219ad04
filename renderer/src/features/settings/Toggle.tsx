import { useEffect, useState } from 'react';

/** A preference that is on or off, saved as soon as it changes. */
export function Toggle({
  id,
  label,
  hint,
  checked,
  onChange,
}: {
  id: string;
  label: string;
  hint: string;
  checked: boolean;
  onChange: (checked: boolean) => Promise<boolean>;
}) {
  // Shows the change at once; main's answer (pushed back) confirms it, a refusal puts it back.
  const [on, setOn] = useState(checked);
  useEffect(() => setOn(checked), [checked]);
  return (
    <div className="toggle">
      <input
        id={id}
        type="checkbox"
        checked={on}
        onChange={(event) => {
          const next = event.target.checked;
          setOn(next);
          void onChange(next).then((saved) => saved || setOn(checked));
        }}
        aria-describedby={`${id}-hint`}
      />
      <label htmlFor={id}>{label}</label>
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </div>
  );
}
