import { type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { base64Decode } from "@bufbuild/protobuf/wire";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { ErrorDetailSchema } from "#gen/error_detail_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { AppError, type ErrorCode } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";

/** The `domain` of every ErrorInfo and ErrorDetail the server sends. */
export const ERROR_DOMAIN = "agentruntime.v1";

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

type Detail = Extract<ConnectError["details"][number], { desc: unknown }>;

/**
 * The status details of an error: google.rpc.ErrorInfo (reason, domain, metadata), then
 * agentruntime.v1.ErrorDetail, then google.rpc.BadRequest when a request field is at fault.
 * Stock gRPC libraries read the google.rpc ones; `field` is also in ErrorInfo's metadata.
 */
function standardDetails(
  reason: string,
  field: string,
  metadata: Record<string, string>,
  description: string,
  badRequest: boolean,
): Detail[] {
  const details: Detail[] = [
    {
      desc: ErrorInfoSchema,
      value: { reason, domain: ERROR_DOMAIN, metadata: field ? { ...metadata, field } : metadata },
    },
    { desc: ErrorDetailSchema, value: { reason, domain: ERROR_DOMAIN, field, metadata } },
  ];
  if (badRequest && field) {
    details.push({ desc: BadRequestSchema, value: { fieldViolations: [{ field, description }] } });
  }
  return details;
}

export function appErrorToConnect(e: AppError): ConnectError {
  const code = CODES[e.code];
  return new ConnectError(
    e.message,
    code,
    undefined,
    standardDetails(e.reason, e.field ?? "", e.metadata, e.message, code === Code.InvalidArgument),
  );
}

const hasErrorInfo = (err: ConnectError) =>
  err.details.some((d) => ("desc" in d ? d.desc.typeName : d.type) === ErrorInfoSchema.typeName);

/** Adds ErrorInfo and ErrorDetail to an error raised by Connect itself (reason: the code). */
function withStandardDetails(err: ConnectError): ConnectError {
  if (!hasErrorInfo(err)) {
    const reason = Code[err.code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
    err.details.push(...standardDetails(reason, "", {}, err.rawMessage, false));
  }
  return err;
}

/**
 * A request Connect could not read (bad protobuf bytes, a compressed frame without a negotiated
 * encoding, a broken envelope...) is the client's fault: INVALID_ARGUMENT, never INTERNAL.
 * Connect raises these before the handler runs and serializes the very error object it aborts
 * the call with, so this corrects that object in place.
 */
function asRequestError(err: ConnectError, logger: Logger, procedure: string): ConnectError {
  if (err.code === Code.Internal || err.code === Code.Unknown) {
    Object.assign(err, {
      code: Code.InvalidArgument,
      message: `[invalid_argument] ${err.rawMessage}`,
    });
    err.details.push(...standardDetails("MALFORMED_REQUEST", "", {}, err.rawMessage, false));
    logger.debug("malformed request", { procedure, reason: err.rawMessage });
  }
  return withStandardDetails(err);
}

/** The one place where errors become statuses; anything unexpected is logged and hidden. */
export function toConnectError(
  e: unknown,
  logger: Logger,
  procedure: string,
  signal?: AbortSignal,
): ConnectError {
  if (e instanceof AppError) {
    if (e.code === "unavailable") {
      logger.warn("dependency unavailable", { procedure, reason: e.reason, err: e });
    } else if (e.code === "internal") {
      logger.error("internal error", { procedure, reason: e.reason, err: e });
    }
    return appErrorToConnect(e);
  }
  if (e instanceof ConnectError) return withStandardDetails(e);
  if (signal?.aborted) {
    // The client went away (cancel, deadline, closed connection): nothing went wrong here.
    logger.debug("call ended by the client", { procedure, err: e });
    return withStandardDetails(new ConnectError("the call was cancelled", Code.Canceled));
  }
  logger.error("unexpected error", { procedure, err: e });
  return appErrorToConnect(new AppError("internal", "INTERNAL", "internal error"));
}

/** Per call: whether the interceptors (and so the handler) were reached. */
interface CallState {
  handlerReached: boolean;
  /** The request message, once read (for naming the field of a NOT_FOUND id). */
  request?: { desc: DescMessage; message: Message };
}
const callStateKey = createContextKey<CallState | undefined>(undefined, {
  description: "error mapping state of the call",
});

/**
 * Runs before Connect reads a request (pass it as the adapter's `requestGate`). Rejects a Connect
 * GET whose `message` is not valid base64, and makes every error Connect raises while reading the
 * request, before any interceptor ran, INVALID_ARGUMENT (logged at debug) with the standard
 * details. Connect hands each error it is about to send to the call's `abort` (also after a
 * deadline already aborted the call), so that is where they are corrected.
 */
export function requestGate(logger: Logger): (context: HandlerContext) => void {
  return (context) => {
    const procedure = context.method.name;
    const state: CallState = { handlerReached: false };
    context.values.set(callStateKey, state);
    const settle = (reason: unknown) => {
      if (!(reason instanceof ConnectError)) return;
      if (state.handlerReached) withStandardDetails(reason);
      else asRequestError(reason, logger, procedure);
    };
    const controller = context as HandlerContext & { abort?: (reason?: unknown) => void };
    const abort = controller.abort;
    if (typeof abort === "function") {
      controller.abort = (reason?: unknown) => {
        settle(reason);
        abort.call(controller, reason);
      };
    } else {
      context.signal.addEventListener("abort", () => settle(context.signal.reason), {
        once: true,
      });
    }
    if (context.requestMethod === "GET") {
      const query = new URL(context.url).searchParams;
      if (query.get("base64") === "1") {
        try {
          base64Decode(query.get("message") ?? "");
        } catch {
          logger.debug("malformed request", { procedure, reason: "message is not base64" });
          throw new ConnectError(
            "the message query parameter is not valid base64",
            Code.InvalidArgument,
            undefined,
            standardDetails("MALFORMED_REQUEST", "", {}, "message is not valid base64", false),
          );
        }
      }
    }
  };
}

/** An error while reading a request stream: the client's fault unless the call was cancelled. */
function requestStreamError(e: unknown, logger: Logger, procedure: string, signal: AbortSignal) {
  if (e instanceof ConnectError) return asRequestError(e, logger, procedure);
  if (signal.aborted) return e;
  logger.debug("malformed request", { procedure, err: e });
  return withStandardDetails(
    new ConnectError(
      `cannot read the request: ${e instanceof Error ? e.message : String(e)}`,
      Code.InvalidArgument,
    ),
  );
}

/** The proto path (`session.id`) of the first string field of `msg` whose value is `value`. */
function fieldHolding(
  msg: ReflectMessage,
  value: string,
  prefix = "",
  depth = 0,
): string | undefined {
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) {
      if (msg.get(field) === value) return prefix + field.name;
    } else if (field.fieldKind === "message" && depth < 4) {
      const found = fieldHolding(msg.get(field), value, `${prefix}${field.name}.`, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** A NOT_FOUND names the request field that held the id, when the thrower did not. */
function withNotFoundField(e: unknown, state: CallState | undefined): unknown {
  if (!(e instanceof AppError) || e.code !== "not_found" || e.field || !state?.request) return e;
  const id = e.metadata.id;
  if (!id) return e;
  const field = fieldHolding(reflect(state.request.desc, state.request.message), id);
  if (!field) return e;
  const named = new AppError(e.code, e.reason, e.message, field, e.metadata);
  if (e.stack) named.stack = e.stack;
  return named;
}

/** Maps errors of unary calls and of streams (while iterating) to Connect errors. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = req.method.name;
    const state = req.contextValues.get(callStateKey);
    if (state) state.handlerReached = true;
    const call = state ?? { handlerReached: true };
    const fail = (e: unknown) =>
      toConnectError(withNotFoundField(e, call), logger, procedure, req.signal);
    if (req.stream) {
      const input = req.message;
      const desc = req.method.input;
      req = {
        ...req,
        message: (async function* () {
          try {
            for await (const message of input) {
              call.request = { desc, message };
              yield message;
            }
          } catch (e) {
            throw requestStreamError(e, logger, procedure, req.signal);
          }
        })(),
      };
    } else {
      call.request = { desc: req.method.input, message: req.message };
    }
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
            throw fail(e);
          }
        })(),
      };
    } catch (e) {
      throw fail(e);
    }
  };
}
