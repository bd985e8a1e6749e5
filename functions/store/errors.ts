/** The backing store (DynamoDB or S3) failed or is unreachable; the API answers 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A tenant, token or instance ID that already exists was created again. */
export class AlreadyExistsError extends Error {
  override readonly name = 'AlreadyExistsError';
}

/** Wraps SDK failures so callers see one error type, never a raw SDK stack. */
export async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AlreadyExistsError) throw error;
    const name = (error as { name?: string }).name ?? 'Error';
    throw new StoreUnavailableError(`${what} failed: ${name}`, { cause: error });
  }
}
