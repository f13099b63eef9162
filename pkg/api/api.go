// Package api holds Mnemo's wire types: what the HTTP APIs answer, shared by
// the services that serve them and the clients (the hook) that read them. It
// links no net/http, so that the hook stays small.
package api

// Error is the JSON body of every 4xx/5xx answer.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}
