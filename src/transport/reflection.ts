import { createRegistry, type DescFile, type Registry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "#grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "#grpc/reflection/v1alpha/reflection_pb.js";

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

interface Files {
  types: Registry;
  byName: Map<string, DescFile>;
}

/** The served files and everything they import, by name and by the symbols they define. */
function index(files: DescFile[]): Files {
  const byName = new Map<string, DescFile>();
  const add = (f: DescFile) => {
    if (byName.has(f.name)) return;
    byName.set(f.name, f);
    f.dependencies.forEach(add);
  };
  files.forEach(add);
  return { types: createRegistry(...byName.values()), byName };
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
function withDependencies(file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const dep of f.dependencies) visit(dep);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
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
            value: { fileDescriptorProto: withDependencies(file) },
          }
        : notFound(`file ${r.value}`);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(files, r.value);
      return file
        ? {
            case: "fileDescriptorResponse" as const,
            value: { fileDescriptorProto: withDependencies(file) },
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

/** gRPC server reflection, v1 and v1alpha, over the given files. */
export function registerReflection(
  router: ConnectRouter,
  served: DescFile[],
  services: readonly string[],
): void {
  const files = index(served);
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
