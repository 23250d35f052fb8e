package agentruntime_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

// These examples compile with the tests; the tests run the same calls against a server.

func ExampleClient_RunTurn() {
	ctx := context.Background()
	client, err := agentruntime.New() // AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	turn, err := client.RunTurn(ctx, "ses_...", "hello")
	if err != nil {
		log.Fatal(err)
	}
	defer turn.Close()
	for event := range turn.Events() {
		if call := event.GetToolCallWaiting().GetCall(); call.GetKind() == v1.PendingKind_PENDING_KIND_APPROVAL {
			if _, err := turn.Approve(ctx, call.GetToolUseId()); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := turn.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(turn.Outcome(), turn.Conversation().FinalText())
}

func ExampleClient_Watch() {
	ctx := context.Background()
	client := agentruntime.NewClient("http://localhost:8080", "")
	watch := client.Watch(ctx, "ses_...", 0)
	defer watch.Close()
	conv := agentruntime.NewConversation()
	for event := range watch.Events() {
		if block := conv.Apply(event); block != nil && conv.Completed(block.GetId()) {
			fmt.Println(block)
		}
	}
	if err := watch.Err(); err != nil {
		log.Fatal(err)
	}
}

func ExampleError() {
	ctx := context.Background()
	client := agentruntime.NewClient("http://localhost:8080", "")
	_, err := client.GetSession(ctx, "ses_00000000000000000000000000")
	var apiErr *agentruntime.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.CodeName(), apiErr.Reason, apiErr.Field, apiErr.Metadata["id"])
	}
	if agentruntime.IsNotFound(err) {
		fmt.Println("no such session")
	}
}
