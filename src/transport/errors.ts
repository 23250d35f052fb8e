import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorDetailSchema } from "#gen/error_detail_pb.js";
import { AppError, type ErrorCode } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  out_of_range: Code.OutOfRange,
  resource_exhausted: Code.ResourceExhausted,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unimplemented: Code.Unimplemented,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

export function appErrorToConnect(e: AppError): ConnectError {
  return new ConnectError(e.message, CODES[e.code], undefined, [
    {
      desc: ErrorDetailSchema,
      value: {
        reason: e.reason,
        domain: "agentruntime.v1",
        field: e.field ?? "",
        metadata: e.metadata,
      },
    },
  ]);
}

/** The one place where errors become statuses; anything unexpected is logged and hidden. */
export function toConnectError(
  e: unknown,
  logger: Logger,
  procedure: string,
  signal?: AbortSignal,
): ConnectError {
  if (e instanceof AppError) return appErrorToConnect(e);
  if (e instanceof ConnectError) return e;
  if (signal?.aborted) {
    // The client went away (cancel, deadline, closed connection): nothing went wrong here.
    logger.debug("call ended by the client", { procedure, err: e });
    return new ConnectError("the call was cancelled", Code.Canceled);
  }
  logger.error("unexpected error", { procedure, err: e });
  return appErrorToConnect(new AppError("internal", "INTERNAL", "internal error"));
}

/** Maps errors of unary calls and of streams (while iterating) to Connect errors. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = req.method.name;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const source = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* source;
          } catch (e) {
            throw toConnectError(e, logger, procedure, req.signal);
          }
        })(),
      };
    } catch (e) {
      throw toConnectError(e, logger, procedure, req.signal);
    }
  };
}
