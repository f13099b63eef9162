// Package query is Mnemo's read side: SessionStart context, search, timeline,
// observations, sessions, stats and the live stream, over HTTP and MCP.
package query
