// Answers to tool calls that wait: allow or deny an approval, or give a custom tool's result.

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AnswerToolCallRequestSchema } from "../../../gen/ts/agentruntime/v1/session_service_pb.js";

export type ToolAnswer =
  | {
      allow: true;
      /** A note to the model. */
      message?: string;
      /** Run with this input instead. */
      updatedInput?: Record<string, unknown>;
      /** Also allow every later call matching this rule in the session (`Bash(npm test:*)`). */
      alwaysAllowRule?: string;
    }
  | { allow: false /** Why, for the model. */; message?: string }
  | { output: string; isError?: boolean };

export function toAnswerRequest(
  sessionId: string,
  toolUseId: string,
  answer: ToolAnswer,
): MessageInitShape<typeof AnswerToolCallRequestSchema> {
  if ("output" in answer) {
    return {
      sessionId,
      toolUseId,
      answer: {
        case: "result",
        value: { output: answer.output, isError: answer.isError ?? false },
      },
    };
  }
  const approval = answer.allow
    ? {
        allow: true,
        message: answer.message ?? "",
        updatedInputJson: answer.updatedInput ? JSON.stringify(answer.updatedInput) : "",
        alwaysAllowRule: answer.alwaysAllowRule ?? "",
      }
    : { allow: false, message: answer.message ?? "" };
  return { sessionId, toolUseId, answer: { case: "approval", value: approval } };
}
