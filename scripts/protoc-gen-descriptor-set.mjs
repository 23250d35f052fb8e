#!/usr/bin/env node
// A protoc plugin (run by `buf generate`, see buf.gen.yaml) that writes every file of the request,
// with its imports and source info (comments), as one FileDescriptorSet: descriptor_set.binpb.
// Server reflection serves it, so clients see the comments. The descriptors are copied byte for
// byte from the CodeGeneratorRequest, so the output is exactly what buf compiled.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = new BinaryReader(new Uint8Array(Buffer.concat(chunks)));

const set = new BinaryWriter();
while (request.pos < request.len) {
  const [field, wireType] = request.tag();
  // CodeGeneratorRequest.proto_file = 15: every file to generate and everything it imports,
  // dependencies first. FileDescriptorSet.file = 1.
  if (field === 15 && wireType === WireType.LengthDelimited) {
    set.tag(1, WireType.LengthDelimited).bytes(request.bytes());
  } else {
    request.skip(wireType);
  }
}

const response = new BinaryWriter();
// supported_features = 2: FEATURE_PROTO3_OPTIONAL.
response.tag(2, WireType.Varint).uint64(1);
// file = 15 { name = 1, content = 15 }
response
  .tag(15, WireType.LengthDelimited)
  .fork()
  .tag(1, WireType.LengthDelimited)
  .string("descriptor_set.binpb")
  .tag(15, WireType.LengthDelimited)
  .bytes(set.finish())
  .join();
process.stdout.write(response.finish());
