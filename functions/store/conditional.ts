import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';

/** A conditional write that lost: the item exists already, or is newer. */
export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    error instanceof TransactionCanceledException ||
    (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException'
  );
}

/**
 * Runs a conditional write; resolves true when it was applied, false when its
 * condition failed. Every other failure propagates (callers wrap it in storeCall).
 */
export async function conditionalWrite(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Epoch milliseconds as a fixed-width string, so sort keys order by time. */
export function padMs(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(15, '0');
}
