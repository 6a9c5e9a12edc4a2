/** Errors that carry an HTTP status, a stable code and an optional schema path, and render themselves. */
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.path !== undefined && { path: this.path }) } };
  }
}
