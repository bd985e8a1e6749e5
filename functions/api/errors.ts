import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An error the API reports as `{"error": {"code", "message"}}` with its status. */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ValidationError extends ApiError {
  override readonly name = 'ValidationError';
  constructor(message: string, code = 'invalid_request') {
    super(400, code, message);
  }
}

export class UnauthorizedError extends ApiError {
  override readonly name = 'UnauthorizedError';
  constructor(code: 'missing_token' | 'invalid_token', message: string) {
    super(401, code, message);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(message: string, code = 'not_found') {
    super(404, code, message);
  }
}

export const errorBody = (code: string, message: string) => ({ error: { code, message } });
