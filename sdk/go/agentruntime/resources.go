package agentruntime

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	v1 "github.com/agentruntime/agent-runtime/gen/go/agentruntime/v1"
)

// The calls a script needs most, returning the resource itself; every other call of the API is
// on Client.Profiles, Client.Sessions, Client.Workspace and Client.Secrets. Errors are *Error.

// CreateProfile creates an agent profile and returns it as stored (with its id).
func (c *Client) CreateProfile(ctx context.Context, profile *v1.AgentProfile) (*v1.AgentProfile, error) {
	res, err := c.Profiles.CreateAgentProfile(ctx, connect.NewRequest(&v1.CreateAgentProfileRequest{Profile: profile}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetProfile(), nil
}

// GetProfile returns the profile with id.
func (c *Client) GetProfile(ctx context.Context, id string) (*v1.AgentProfile, error) {
	res, err := c.Profiles.GetAgentProfile(ctx, connect.NewRequest(&v1.GetAgentProfileRequest{AgentProfileId: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetProfile(), nil
}

// FindProfile returns the first profile named name (for example the built-in "demo"), or a
// NOT_FOUND *Error with reason PROFILE_NOT_FOUND and field "name".
func (c *Client) FindProfile(ctx context.Context, name string) (*v1.AgentProfile, error) {
	token := ""
	for {
		res, err := c.Profiles.ListAgentProfiles(ctx, connect.NewRequest(&v1.ListAgentProfilesRequest{
			PageSize: 500, PageToken: token,
		}))
		if err != nil {
			return nil, err
		}
		for _, p := range res.Msg.GetProfiles() {
			if p.GetName() == name {
				return p, nil
			}
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return nil, &Error{
				Code: connect.CodeNotFound, Message: fmt.Sprintf("no profile is named %q", name),
				Reason: "PROFILE_NOT_FOUND", Field: "name", Metadata: map[string]string{"name": name},
			}
		}
	}
}

// CreateSession creates a session (of req.AgentProfileId) and returns it.
func (c *Client) CreateSession(ctx context.Context, req *v1.CreateSessionRequest) (*v1.Session, error) {
	res, err := c.Sessions.CreateSession(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSession(), nil
}

// GetSession returns the session with id: its state, pending tool calls, usage, last sequence.
func (c *Client) GetSession(ctx context.Context, id string) (*v1.Session, error) {
	res, err := c.Sessions.GetSession(ctx, connect.NewRequest(&v1.GetSessionRequest{SessionId: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSession(), nil
}

// DeleteSession ends the session's sandbox and removes everything it stored.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	_, err := c.Sessions.DeleteSession(ctx, connect.NewRequest(&v1.DeleteSessionRequest{SessionId: id}))
	return err
}

// ReadFile returns the content of a file of the session's workspace (path relative to it).
func (c *Client) ReadFile(ctx context.Context, sessionID, path string) ([]byte, error) {
	res, err := c.Workspace.ReadFile(ctx, connect.NewRequest(&v1.ReadFileRequest{SessionId: sessionID, Path: path}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetContent(), nil
}

// WriteFile writes a file of the session's workspace and returns its size and hash.
func (c *Client) WriteFile(ctx context.Context, sessionID, path string, content []byte) (*v1.FileInfo, error) {
	res, err := c.Workspace.WriteFile(ctx, connect.NewRequest(&v1.WriteFileRequest{
		SessionId: sessionID, Path: path, Content: content,
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetFile(), nil
}
