import { readFileSync } from "node:fs";
import {
  createRegistry,
  type DescFile,
  fromBinary,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "#grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "#grpc/reflection/v1alpha/reflection_pb.js";
import { file_google_rpc_error_details } from "../../gen/ts/google/rpc/error_details_pb.js";

/**
 * Every proto file with its comments (source info), written by `buf generate`
 * (scripts/protoc-gen-descriptor-set.mjs). The descriptors compiled into gen/ts have none.
 */
const DESCRIPTOR_SET = new URL("../../gen/descriptor/descriptor_set.binpb", import.meta.url);

/** The files of the descriptor set by name; empty when it cannot be read. */
function filesWithComments(): Map<string, FileDescriptorProto> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(DESCRIPTOR_SET);
  } catch {
    return new Map();
  }
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  return new Map(set.file.map((f) => [f.name, f]));
}

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

interface Files {
  types: Registry;
  byName: Map<string, DescFile>;
  /** Each file serialized, with its comments when the descriptor set has it. */
  serialized: Map<string, Uint8Array>;
}

/** The served files and everything they import, by name and by the symbols they define. */
function index(files: DescFile[]): Files {
  // By file name with its `.proto` suffix, as clients ask for it (DescFile.name has none).
  const byName = new Map<string, DescFile>();
  const add = (f: DescFile) => {
    if (byName.has(f.proto.name)) return;
    byName.set(f.proto.name, f);
    f.dependencies.forEach(add);
  };
  files.forEach(add);
  const commented = filesWithComments();
  const serialized = new Map<string, Uint8Array>();
  for (const [name, f] of byName) {
    serialized.set(name, toBinary(FileDescriptorProtoSchema, commented.get(name) ?? f.proto));
  }
  return { types: createRegistry(...byName.values()), byName, serialized };
}

/** The file that defines `symbol` (a message, enum, service, method or field name). */
function fileOfSymbol(files: Files, symbol: string): DescFile | undefined {
  const desc = files.types.get(symbol);
  if (desc) return desc.file;
  const dot = symbol.lastIndexOf(".");
  if (dot < 0) return undefined;
  return files.types.get(symbol.slice(0, dot))?.file;
}

/** The file and everything it imports, serialized, dependencies first. */
function withDependencies(files: Files, file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dep of f.dependencies) visit(dep);
    out.push(files.serialized.get(f.proto.name) ?? toBinary(FileDescriptorProtoSchema, f.proto));
  };
  visit(file);
  return out;
}

function answer(files: Files, services: readonly string[], req: Request) {
  const notFound = (what: string) => ({
    case: "errorResponse" as const,
    value: { errorCode: 5, errorMessage: `${what} not found` },
  });
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse" as const,
        value: { service: services.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const file = files.byName.get(r.value);
      return file
        ? {
            case: "fileDescriptorResponse" as const,
            value: { fileDescriptorProto: withDependencies(files, file) },
          }
        : notFound(`file ${r.value}`);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(files, r.value);
      return file
        ? {
            case: "fileDescriptorResponse" as const,
            value: { fileDescriptorProto: withDependencies(files, file) },
          }
        : notFound(`symbol ${r.value}`);
    }
    case "allExtensionNumbersOfType":
      return {
        case: "allExtensionNumbersResponse" as const,
        value: { baseTypeName: r.value, extensionNumber: [] },
      };
    default:
      return notFound("extension");
  }
}

/**
 * gRPC server reflection, v1 and v1alpha, over the given files (with their comments), and the
 * google.rpc error details every error carries, so clients can decode them.
 */
export function registerReflection(
  router: ConnectRouter,
  served: DescFile[],
  services: readonly string[],
): void {
  const files = index([...served, file_google_rpc_error_details]);
  for (const version of [v1, v1alpha] as const) {
    router.service(version.ServerReflection, {
      async *serverReflectionInfo(requests: AsyncIterable<Request>) {
        for await (const req of requests) {
          yield {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(files, services, req),
          };
        }
      },
    } as never);
  }
}
