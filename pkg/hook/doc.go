// Package hook maps coding agents' hook payloads onto Mnemo's event envelope
// (pkg/event). It is shared by the hook CLI (`mnemo hook claude-code <event>`)
// and ingest's raw endpoint (POST /v1/hooks/claude-code/{event}), so both
// record the same envelope for the same payload. It imports only pkg/event and
// the standard library, and never runs a process: the agent waits on the hook.
//
// # Claude Code events
//
// ClaudeCode maps one payload. Every envelope is Sanitize()d (privacy and
// injected-context tags stripped), cut to the limits (tool response and input
// to a truncation marker, texts to their head) and then validated.
//
//	hook event            envelope                   fields carried
//	SessionStart          session_start              source (startup|resume|clear|compact)
//	UserPromptSubmit      user_prompt                prompt, prompt_id, raw (a slash command as typed: "/greet world")
//	PostToolUse           tool_use                   tool name, input, response, tool_use_id
//	PostToolUseFailure    tool_use                   tool name, input, tool_use_id, error (Tool.Error)
//	Stop                  stop                       last_assistant_message
//	StopFailure           stop, source "error"       none (its last message is a synthetic API error)
//	SessionEnd            session_end                reason in Source
//	PreToolUse            skipped                    the CLI uses PreToolUse(Read) for the file-read gate
//	PostToolBatch         skipped                    repeats the PostToolUse events as model-facing text
//	UserPromptExpansion   skipped                    UserPromptSubmit follows with the raw prompt
//	SubagentStop          skipped                    subagents are not summarized (Agent's PostToolUse has the result)
//	Stop, stop_hook_active skipped                   the turn continues after a blocking Stop hook
//	Notification, SubagentStart, PreCompact, PostCompact, PermissionRequest,
//	PermissionDenied, InstructionsLoaded, Setup, ConfigChange, FileChanged,
//	CwdChanged, TaskCreated, TaskCompleted, TeammateIdle, Elicitation,
//	ElicitationResult, WorktreeCreate, WorktreeRemove, MessageDisplay
//	                      skipped                    no memory value
//	anything else         ErrUnknownEvent
//
// Every envelope carries session_id, cwd, the project (Options.Project), the
// agent, the hook time and, inside a subagent, agent_id and agent_type. Tool
// uses of DefaultSkipTools (claude-mem's CLAUDE_MEM_SKIP_TOOLS plus the task
// list tools) are skipped, as are prompts that are only a <task-notification>
// and every event of a project matched by Options.Exclude.
//
// A skipped event is a *SkipError (errors.Is ErrSkip), which callers treat as
// success; an unknown event name is ErrUnknownEvent; a body that is not a JSON
// object wraps event.ErrMalformed; a missing or bad session_id (and any other
// validation failure) is an *event.FieldError.
//
// # Event IDs
//
// The event ID is a fresh ULID at the hook time unless Options.NewID says
// otherwise. The hook CLI makes it once and keeps it with the envelope in its
// spool, so a replay is deduplicated by JetStream (Nats-Msg-Id) and the store.
//
// # State across hook processes
//
// With Options.State (the CLI uses $MNEMO_HOME/hook-state), ClaudeCode keeps
// one small file per session:
//
//   - a prompt repeated within 10 s in the same session is sent once (the
//     second is skipped) — this absorbs a hook installed twice;
//   - an entirely private prompt (event.IsEntirelyPrivate) is sent as a
//     user_prompt with Private=true and no text (Sanitize), and its prompt_id
//     is remembered: the tool uses and the stop of that turn (same prompt_id,
//     subagents included) are then sent with Private=true and no content —
//     tool name and tool_use_id only, no input, response, error or assistant
//     message. They keep the session's order and counts; the worker records
//     them and never compresses them into memory.
//
// The file is deleted at SessionEnd and files untouched for 7 days are swept
// at SessionStart. Without State (ingest's raw endpoint), each payload is
// mapped on its own: tags are still stripped everywhere.
package hook
