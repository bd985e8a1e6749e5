export interface LoadMoreProps {
  /** The previous page's next_token; null or undefined at the end of the list. */
  nextToken: string | null | undefined;
  loading: boolean;
  onLoadMore(nextToken: string): void;
  label?: string;
  /** Said at the end of the list ("All 1,234 packets shown"). */
  endLabel?: string;
}

/** Follows next_token to the next page; says so when there is none. */
export function LoadMore({
  nextToken,
  loading,
  onLoadMore,
  label = 'Load more',
  endLabel,
}: LoadMoreProps) {
  if (!nextToken) return endLabel ? <p className="load-more-end">{endLabel}</p> : null;
  return (
    <div className="load-more">
      <button
        type="button"
        className="button"
        disabled={loading}
        onClick={() => onLoadMore(nextToken)}
      >
        {loading ? 'Loading…' : label}
      </button>
    </div>
  );
}
