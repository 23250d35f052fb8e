import { file_agentruntime_v1_error_detail } from "#gen/error_detail_pb.js";
import { file_agentruntime_v1_profile_service } from "#gen/profile_service_pb.js";
import { file_agentruntime_v1_secret_service } from "#gen/secret_service_pb.js";
import { file_agentruntime_v1_session_service } from "#gen/session_service_pb.js";
import { file_agentruntime_v1_webhook_service } from "#gen/webhook_service_pb.js";
import { file_agentruntime_v1_workspace_service } from "#gen/workspace_service_pb.js";
import { file_grpc_health_v1_health } from "#grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "#grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "#grpc/reflection/v1alpha/reflection_pb.js";

/** The proto files the server serves, for reflection. */
export const SERVED_FILES = [
  file_agentruntime_v1_profile_service,
  file_agentruntime_v1_session_service,
  file_agentruntime_v1_workspace_service,
  file_agentruntime_v1_secret_service,
  file_agentruntime_v1_webhook_service,
  file_agentruntime_v1_error_detail,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
];
