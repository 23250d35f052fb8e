// AIP-134: an update without a mask updates the fields the request populated. This turns a
// request message into those paths, for the paths an update table (src/app/shared/field-mask.ts)
// knows: a populated message field with known sub-paths contributes its populated sub-paths.

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import type { MaskFields } from "../app/shared/field-mask.js";

export function populatedPaths<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  fields: MaskFields,
): string[] {
  const known = Object.keys(fields);
  const paths: string[] = [];
  const walk = (r: ReflectMessage, prefix: string) => {
    for (const field of r.fields) {
      const path = `${prefix}${field.name}`;
      if (!known.includes(path) || !r.isSet(field)) continue;
      const children = known.some((k) => k.startsWith(`${path}.`));
      if (children && field.fieldKind === "message")
        walk(r.get(field) as ReflectMessage, `${path}.`);
      else paths.push(path);
    }
  };
  walk(reflect(schema, message), "");
  return paths;
}

/** The request's mask, or the populated paths when it has none. */
export function maskOf<Desc extends DescMessage>(
  mask: { paths: string[] } | undefined,
  schema: Desc,
  message: MessageShape<Desc>,
  fields: MaskFields,
): string[] {
  return mask && mask.paths.length > 0 ? mask.paths : populatedPaths(schema, message, fields);
}
