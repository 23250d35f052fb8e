// Command runturn runs a turn of the demo agent and prints the conversation: go run ./examples/go/runturn [message]
package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
	"github.com/agentruntime/agent-runtime/sdk/go/agentruntime"
)

func main() {
	ctx := context.Background()
	client, err := agentruntime.New() // AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	profile, err := client.FindProfile(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}
	session, err := client.CreateSession(ctx, &v1.CreateSessionRequest{AgentProfileId: profile.GetId()})
	if err != nil {
		log.Fatal(err)
	}
	message := cmp.Or(strings.Join(os.Args[1:], " "), "hello")
	turn, err := client.RunTurn(ctx, session.GetId(), message) // resumes by itself if the connection drops
	if err != nil {
		log.Fatal(err)
	}
	if _, err := turn.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n\noutcome: %s\n", turn.Conversation(), turn.Outcome())
}
