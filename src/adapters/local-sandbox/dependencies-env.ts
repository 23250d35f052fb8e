// Where a sandbox's installed dependencies are, and the environment that finds them.

import { DEFAULT_PATH } from "./bwrap.js";

/** Where an isolated sandbox sees its dependencies (read-only; writable for the installer). */
export const DEPS_MOUNT = "/opt/agent-deps";

/**
 * AGENT_DEPS_DIR, NODE_PATH, PYTHONPATH and PATH for dependencies installed under `dir`; PATH
 * goes on with `basePath` (the Modal provider passes "$PATH", expanded by its image's ENV).
 */
export function depsEnv(dir: string, basePath = DEFAULT_PATH): Record<string, string> {
  return {
    AGENT_DEPS_DIR: dir,
    NODE_PATH: `${dir}/node/node_modules`,
    PYTHONPATH: `${dir}/python`,
    PATH: `${dir}/node/node_modules/.bin:${dir}/python/bin:${basePath}`,
  };
}
