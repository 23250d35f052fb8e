// Update masks (AIP-134): which fields of a patch an update applies. A table maps each API path
// (`sandbox.memory_mib`) to where it lives in the domain object (`["sandbox", "memoryMib"]`).

import { invalidField } from "../../domain/errors.js";

export type MaskFields = Readonly<Record<string, readonly string[]>>;

type Obj = Record<string, unknown>;

/**
 * `base` with the masked fields taken from `patch`. `*` alone replaces every field of the table;
 * an unknown path is InvalidArgument naming it. The caller turns "no mask" into the paths the
 * request populated (AIP-134), so an empty mask here changes nothing.
 */
export function applyMask<T extends object>(
  base: T,
  patch: T,
  mask: readonly string[],
  fields: MaskFields,
): T {
  const paths = mask.length === 1 && mask[0] === "*" ? topLevel(fields) : mask;
  paths.forEach((path, i) => {
    if (!Object.hasOwn(fields, path)) {
      throw invalidField(
        `update_mask.paths[${i}]`,
        `unknown or read-only field ${JSON.stringify(path)}; updatable: ${Object.keys(fields).join(", ")}, or * for all`,
      );
    }
  });
  const next = structuredClone(base) as Obj;
  for (const path of paths) {
    const keys = fields[path]!;
    let to = next;
    let from = patch as Obj;
    for (const key of keys.slice(0, -1)) {
      to = to[key] as Obj;
      from = from[key] as Obj;
    }
    const last = keys.at(-1)!;
    to[last] = structuredClone(from[last]);
  }
  return next as T;
}

/** Paths without a parent in the table: what `*` replaces. */
function topLevel(fields: MaskFields): string[] {
  return Object.keys(fields).filter((p) => !p.includes("."));
}
