import type { KeyboardEvent, ReactNode } from 'react';

export interface Column<Row> {
  key: string;
  header: ReactNode;
  render(row: Row): ReactNode;
  align?: 'left' | 'right' | 'center';
  /** A tooltip for the header (what the column means, its unit). */
  title?: string;
  /** Extra class for the column's cells, e.g. 'mono' for addresses. */
  className?: string;
}

export interface DataTableProps<Row> {
  columns: Column<Row>[];
  rows: readonly Row[];
  rowKey(row: Row): string;
  /** Makes rows focusable: click, Enter or Space activates. */
  onRowClick?(row: Row): void;
  /** What a row activation does, for screen readers ("Open packet 0190…"). */
  rowLabel?(row: Row): string;
  /** The table's accessible name. */
  caption: string;
  /** Show the caption visually (default: only for screen readers). */
  showCaption?: boolean;
  selectedKey?: string;
}

/** A plain table with sticky headers that scrolls sideways on narrow screens. */
export function DataTable<Row>({
  columns,
  rows,
  rowKey,
  onRowClick,
  rowLabel,
  caption,
  showCaption = false,
  selectedKey,
}: DataTableProps<Row>) {
  const onKeyDown = (row: Row) => (event: KeyboardEvent<HTMLTableRowElement>) => {
    if (event.target !== event.currentTarget) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onRowClick?.(row);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const sibling =
        event.key === 'ArrowDown'
          ? event.currentTarget.nextElementSibling
          : event.currentTarget.previousElementSibling;
      (sibling as HTMLElement | null)?.focus();
    }
  };
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a wide table scrolls sideways and must be reachable by keyboard
    <section className="table-scroll" tabIndex={0} aria-label={caption}>
      <table className="data-table">
        <caption className={showCaption ? undefined : 'visually-hidden'}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} scope="col" title={c.title} className={`align-${c.align ?? 'left'}`}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const key = rowKey(row);
            const interactive = onRowClick !== undefined;
            return (
              <tr
                key={key}
                className={`${interactive ? 'row-link' : ''}${selectedKey === key ? ' row-selected' : ''}`}
                {...(interactive
                  ? {
                      tabIndex: 0,
                      onClick: () => onRowClick(row),
                      onKeyDown: onKeyDown(row),
                      'aria-label': rowLabel?.(row),
                    }
                  : {})}
              >
                {columns.map((c) => (
                  <td key={c.key} className={`align-${c.align ?? 'left'} ${c.className ?? ''}`}>
                    {c.render(row)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
