// The Modal provider's limits and fixed settings.

import { WORKSPACE_ROOT } from "../../domain/paths.js";

/** A command's run time when it names none. */
export const MODAL_DEFAULT_TIMEOUT_MS = 120_000;
/** The longest run time a command may ask for. */
export const MODAL_MAX_TIMEOUT_MS = 600_000;
/** Output kept per stream (stdout, stderr) of one command; past it the command is killed. */
export const MODAL_MAX_OUTPUT_BYTES = 1024 * 1024;
/** How long a killed command may take to report its end before exec returns without it. */
export const MODAL_KILL_GRACE_MS = 10_000;
/** A sandbox's whole life: a safety net behind the runtime's own idle shutdown (Modal's max). */
export const MODAL_SANDBOX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** Modal ends a sandbox with no running command after this long, if the runtime did not. */
export const MODAL_SANDBOX_IDLE_TIMEOUT_MS = 20 * 60 * 1000;

/** The Modal provider's limits. */
export const MODAL_SANDBOX_LIMITS = Object.freeze({
  defaultTimeoutMs: MODAL_DEFAULT_TIMEOUT_MS,
  maxTimeoutMs: MODAL_MAX_TIMEOUT_MS,
  maxOutputBytes: MODAL_MAX_OUTPUT_BYTES,
  killGraceMs: MODAL_KILL_GRACE_MS,
  sandboxTimeoutMs: MODAL_SANDBOX_TIMEOUT_MS,
  sandboxIdleTimeoutMs: MODAL_SANDBOX_IDLE_TIMEOUT_MS,
});

/** Image for profiles that name none. */
export const MODAL_DEFAULT_IMAGE = "debian:bookworm-slim";
export const MODAL_WORKDIR = WORKSPACE_ROOT;
/** Characters of the image builder's message a failed dependency install shows (its end). */
export const MODAL_DEPS_FAILURE_CHARS = 4_000;
