/** A screen's heading, focused when the screen opens so keyboard and screen-reader users land on it. */
import { useEffect, useRef, type ReactNode } from 'react';

export function ScreenHeading({ children, focusKey }: { children: ReactNode; focusKey?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: false });
  }, [focusKey]);
  return (
    <h1 className="screen-heading" tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}
