import { formatTime } from '../format.js';

/** Local time, with UTC in the tooltip. */
export function Time({ value, ms = false }: { value: number | Date; ms?: boolean }) {
  const t = formatTime(value, { ms });
  return (
    <time dateTime={t.iso} title={t.title}>
      {t.text}
    </time>
  );
}
