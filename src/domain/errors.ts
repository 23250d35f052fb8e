// Domain errors. The transport maps each code to a Connect/gRPC status in one place.

export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "out_of_range"
  | "resource_exhausted"
  | "unauthenticated"
  | "permission_denied"
  | "unimplemented"
  | "unavailable"
  | "internal";

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    /** UPPER_SNAKE, stable, machine-readable. */
    readonly reason: string,
    message: string,
    /** The request field at fault, in proto snake_case form (`profile.name`). */
    readonly field?: string,
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function invalidField(field: string, message: string): AppError {
  return new AppError("invalid_argument", "INVALID_FIELD", `${field}: ${message}`, field);
}

/**
 * `field`: the request field that held the id (`session_id`, `session.id`). Without it, the
 * transport names the request field whose value is the id.
 */
export function notFound(kind: string, id: string, field?: string): AppError {
  return new AppError(
    "not_found",
    `${kind.toUpperCase().replace(/ /g, "_")}_NOT_FOUND`,
    `${kind} ${JSON.stringify(id)} not found`,
    field,
    { id },
  );
}

/** The reason of a fenced write whose writer lost the session's lease. */
export const LEASE_LOST = "LEASE_LOST";

/** The error of a fenced write whose writer lost the session's lease. */
export function leaseLost(sessionId: string, fence: number): AppError {
  return new AppError(
    "unavailable",
    LEASE_LOST,
    `another replica runs session ${sessionId} now (this writer's lease ${fence} is over)`,
    undefined,
    { retryable: "true" },
  );
}
