// Workspace path validation shared by the sandbox adapters and the API layer. The rule itself lives
// in the domain (src/domain/paths.ts, already used by the use cases) so there is exactly one
// definition; this module is the adapters' entry point to it.

export { MAX_PATH_BYTES, normalizeWorkspacePath } from "../domain/paths.js";
