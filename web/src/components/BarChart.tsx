import { useId } from 'react';
import { useElementWidth } from '../hooks/useElementWidth.js';

export interface Bar {
  label: string;
  value: number;
}

export interface BarChartProps {
  /** Names the chart for screen readers and as its heading. */
  title: string;
  bars: readonly Bar[];
  formatValue?(value: number): string;
  /** Largest bars first, at most this many (the rest summed as "other"). */
  limit?: number;
}

const ROW = 26;
const VALUE_WIDTH = 72;

/** Horizontal bars in SVG, largest first; a hidden table says the same to screen readers. */
export function BarChart({ title, bars, formatValue = String, limit = 8 }: BarChartProps) {
  const titleId = useId();
  const [ref, width] = useElementWidth<HTMLElement>(480);
  const labelWidth = Math.min(150, Math.round(width * 0.36));
  const maxChars = Math.max(8, Math.floor(labelWidth / 7));
  const sorted = [...bars].sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
  const shown = sorted.slice(0, limit);
  const rest = sorted.slice(limit).reduce((sum, b) => sum + b.value, 0);
  if (rest > 0) shown.push({ label: `${sorted.length - limit} other`, value: rest });
  const max = Math.max(1, ...shown.map((b) => b.value));
  const plot = Math.max(20, width - labelWidth - VALUE_WIDTH);
  const height = Math.max(ROW, shown.length * ROW);
  return (
    <figure className="chart bar-chart" ref={ref}>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={titleId}
        width={width}
        height={height}
      >
        <title id={titleId}>
          {`${title}: ${shown.map((b) => `${b.label} ${formatValue(b.value)}`).join(', ') || 'no data'}`}
        </title>
        {shown.map((bar, i) => {
          const y = i * ROW;
          const w = Math.max(2, (bar.value / max) * plot);
          return (
            <g key={bar.label} transform={`translate(0 ${y})`}>
              <text
                x={labelWidth - 8}
                y={ROW / 2}
                className="chart-label"
                textAnchor="end"
                dominantBaseline="middle"
              >
                {bar.label.length > maxChars ? `${bar.label.slice(0, maxChars - 1)}…` : bar.label}
              </text>
              <rect
                x={labelWidth}
                y={4}
                width={w}
                height={ROW - 8}
                rx={3}
                className={`chart-bar series-${i % 8}`}
              />
              <text
                x={labelWidth + w + 6}
                y={ROW / 2}
                className="chart-value"
                dominantBaseline="middle"
              >
                {formatValue(bar.value)}
              </text>
            </g>
          );
        })}
      </svg>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {shown.map((b) => (
            <tr key={b.label}>
              <th scope="row">{b.label}</th>
              <td>{formatValue(b.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
