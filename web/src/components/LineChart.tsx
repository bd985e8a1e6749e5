import { useId } from 'react';
import { formatTime } from '../format.js';
import { useElementWidth } from '../hooks/useElementWidth.js';

export interface SeriesPoint {
  /** Epoch milliseconds. */
  t: number;
  values: Record<string, number>;
}

export interface LineChartProps {
  title: string;
  points: readonly SeriesPoint[];
  /** Series to draw, in legend order; default: every key seen. */
  series?: readonly string[];
  formatValue?(value: number): string;
  height?: number;
}

const PAD = { left: 64, right: 12, top: 10, bottom: 26 };

/** A small SVG time series: one line per series, min/max time and max value on the axes. */
export function LineChart({
  title,
  points,
  series,
  formatValue = String,
  height = 200,
}: LineChartProps) {
  const titleId = useId();
  const [ref, width] = useElementWidth<HTMLElement>(640);
  const names = series ?? [...new Set(points.flatMap((p) => Object.keys(p.values)))];
  const sorted = [...points].sort((a, b) => a.t - b.t);
  const t0 = sorted[0]?.t ?? 0;
  const t1 = sorted.at(-1)?.t ?? 1;
  const max = Math.max(1e-9, ...sorted.flatMap((p) => names.map((n) => p.values[n] ?? 0)));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const last = sorted.at(-1);
  const summary = last
    ? names.map((n) => `${n} ${formatValue(last.values[n] ?? 0)}`).join(', ')
    : 'no data';
  return (
    <figure className="chart line-chart" ref={ref}>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-labelledby={titleId}
      >
        <title id={titleId}>{`${title} (latest: ${summary})`}</title>
        <line
          x1={PAD.left}
          x2={width - PAD.right}
          y1={PAD.top + plotH}
          y2={PAD.top + plotH}
          className="chart-axis"
        />
        <line
          x1={PAD.left}
          x2={PAD.left}
          y1={PAD.top}
          y2={PAD.top + plotH}
          className="chart-axis"
        />
        <line
          x1={PAD.left}
          x2={width - PAD.right}
          y1={PAD.top}
          y2={PAD.top}
          className="chart-grid"
        />
        <text
          x={PAD.left - 6}
          y={PAD.top}
          className="chart-label"
          textAnchor="end"
          dominantBaseline="middle"
        >
          {formatValue(max)}
        </text>
        <text
          x={PAD.left - 6}
          y={PAD.top + plotH}
          className="chart-label"
          textAnchor="end"
          dominantBaseline="middle"
        >
          {formatValue(0)}
        </text>
        {sorted.length > 0 ? (
          <>
            <text x={PAD.left} y={height - 6} className="chart-label">
              {formatTime(t0).text.slice(11)}
            </text>
            <text x={width - PAD.right} y={height - 6} className="chart-label" textAnchor="end">
              {formatTime(t1).text.slice(11)}
            </text>
          </>
        ) : null}
        {names.map((name, i) => {
          const d = sorted
            .map(
              (p, j) =>
                `${j === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)} ${y(p.values[name] ?? 0).toFixed(1)}`,
            )
            .join(' ');
          return (
            <g key={name} className={`series-${i % 8}`}>
              <path d={d} className="chart-line" />
              {sorted.length === 1 ? (
                <circle
                  cx={x(sorted[0]!.t)}
                  cy={y(sorted[0]!.values[name] ?? 0)}
                  r={3}
                  className="chart-dot"
                />
              ) : null}
            </g>
          );
        })}
      </svg>
      {names.length > 1 ? (
        <figcaption className="chart-legend">
          {names.map((name, i) => (
            <span key={name} className="legend-item">
              <span className={`legend-swatch series-${i % 8}`} aria-hidden="true" />
              {name}
            </span>
          ))}
        </figcaption>
      ) : null}
    </figure>
  );
}
