package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// MetaTTL is how long session metadata lives after its last refresh.
const MetaTTL = 7 * 24 * time.Hour

// ActiveKey is the sorted set of sessions by last event time (ms).
const ActiveKey = "mnemo:sessions:active"

// MetaKey is the metadata hash of a session.
func MetaKey(sid string) string { return "mnemo:{" + sid + "}:meta" }

// Meta is a session's metadata as Redis holds it.
type Meta struct {
	SessionID    string
	Project      string
	Agent        string
	Cwd          string
	Status       string
	StartedAt    time.Time
	LastEventAt  time.Time
	PromptNumber int
}

// MetaStore reads and writes session metadata: the one writer of its keys,
// which every service asks (TestOnlyPkgSessionWritesSessionMetadata checks).
type MetaStore struct{ rdb redis.UniversalClient }

// NewMetaStore returns a MetaStore on rdb.
func NewMetaStore(rdb redis.UniversalClient) *MetaStore { return &MetaStore{rdb: rdb} }

// Touch records that an event of the session was accepted: it sets the
// non-empty fields, keeps the first started_at, refreshes the TTL and the
// session's place in the active set. Pass the event's hook time (envelope
// "at"): it is never later than the broker's accept time, which the worker
// compares against. The worker owns prompt_number and status.
func (m *MetaStore) Touch(ctx context.Context, sid, project, agent, cwd string, at time.Time) error {
	return m.TouchAll(ctx, []Activity{{SessionID: sid, Project: project, Agent: agent, Cwd: cwd, First: at, Last: at}})
}

// Activity is what a run of accepted events says about one session: the
// latest non-empty project, agent and cwd, and the hook times of the first
// and last of those events.
type Activity struct {
	SessionID           string
	Project, Agent, Cwd string
	First, Last         time.Time
}

// Merge folds a later event of the same session into a. The project is the
// first event's: a session's project is fixed at its start.
func (a *Activity) Merge(project, agent, cwd string, at time.Time) {
	if a.Project == "" {
		a.Project = project
	}
	if agent != "" {
		a.Agent = agent
	}
	if cwd != "" {
		a.Cwd = cwd
	}
	if at.Before(a.First) {
		a.First = at
	}
	if at.After(a.Last) {
		a.Last = at
	}
}

// TouchAll is Touch for many sessions in one round trip: ingest folds the
// events of each session accepted since its last write into one Activity,
// so Redis sees one update per active session, not one per event.
func (m *MetaStore) TouchAll(ctx context.Context, acts []Activity) error {
	if len(acts) == 0 {
		return nil
	}
	_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, a := range acts {
			key := MetaKey(a.SessionID)
			first, last := a.First.UnixMilli(), a.Last.UnixMilli()
			fields := map[string]any{"last_event_at": last}
			if a.Project != "" {
				// Only a session's first project is kept (the worker, which
				// owns the session, writes the stored one with Set).
				p.HSetNX(ctx, key, "project", a.Project)
			}
			if a.Agent != "" {
				fields["agent"] = a.Agent
			}
			if a.Cwd != "" {
				fields["cwd"] = a.Cwd
			}
			p.HSet(ctx, key, fields)
			p.HSetNX(ctx, key, "started_at", first)
			p.HSetNX(ctx, key, "status", "active")
			p.Expire(ctx, key, MetaTTL)
			p.ZAddArgs(ctx, ActiveKey, redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: float64(last), Member: a.SessionID}}})
		}
		return nil
	})
	if err != nil {
		if len(acts) == 1 {
			return fmt.Errorf("session: touch meta of %s: %w", acts[0].SessionID, err)
		}
		return fmt.Errorf("session: touch meta of %d sessions: %w", len(acts), err)
	}
	return nil
}

// Set writes the whole metadata of a session (the worker's view, or a rebuild
// from the store).
func (m *MetaStore) Set(ctx context.Context, meta Meta) error {
	key := MetaKey(meta.SessionID)
	_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, map[string]any{
			"project":       meta.Project,
			"agent":         meta.Agent,
			"cwd":           meta.Cwd,
			"status":        meta.Status,
			"started_at":    meta.StartedAt.UnixMilli(),
			"last_event_at": meta.LastEventAt.UnixMilli(),
			"prompt_number": meta.PromptNumber,
		})
		p.Expire(ctx, key, MetaTTL)
		if meta.Status == "active" {
			// GT: never move a session back in time past a newer event.
			p.ZAddArgs(ctx, ActiveKey, redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: float64(meta.LastEventAt.UnixMilli()), Member: meta.SessionID}}})
		} else {
			p.ZRem(ctx, ActiveKey, meta.SessionID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: set meta of %s: %w", meta.SessionID, err)
	}
	return nil
}

// ErrNoMeta means Redis holds no metadata for the session (new session, TTL
// expired or Redis restarted): rebuild it from the store.
var ErrNoMeta = errors.New("session: no metadata in redis")

// Get reads a session's metadata; ErrNoMeta when there is none.
func (m *MetaStore) Get(ctx context.Context, sid string) (Meta, error) {
	h, err := m.rdb.HGetAll(ctx, MetaKey(sid)).Result()
	if err != nil {
		return Meta{}, fmt.Errorf("session: get meta of %s: %w", sid, err)
	}
	if len(h) == 0 {
		return Meta{}, ErrNoMeta
	}
	meta := Meta{SessionID: sid, Project: h["project"], Agent: h["agent"], Cwd: h["cwd"], Status: h["status"]}
	meta.StartedAt = msTime(h["started_at"])
	meta.LastEventAt = msTime(h["last_event_at"])
	meta.PromptNumber, _ = strconv.Atoi(h["prompt_number"])
	return meta, nil
}

// Active returns the number of sessions with an event since since.
func (m *MetaStore) Active(ctx context.Context, since time.Time) (int64, error) {
	n, err := m.rdb.ZCount(ctx, ActiveKey, strconv.FormatInt(since.UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("session: count active: %w", err)
	}
	return n, nil
}

// Idle returns sessions whose last event is older than before, oldest first.
func (m *MetaStore) Idle(ctx context.Context, before time.Time, limit int64) ([]string, error) {
	ids, err := m.rdb.ZRangeByScore(ctx, ActiveKey, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(before.UnixMilli(), 10), Count: limit,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("session: list idle: %w", err)
	}
	return ids, nil
}

// Deactivate removes the session from the active set (ended or summarized).
func (m *MetaStore) Deactivate(ctx context.Context, sid string) error {
	if err := m.rdb.ZRem(ctx, ActiveKey, sid).Err(); err != nil {
		return fmt.Errorf("session: deactivate %s: %w", sid, err)
	}
	return nil
}

func msTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

var deactivateIfScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

// DeactivateIfNoEventSince removes the session from the active set unless an
// event newer than at touched it meanwhile: a summary covers the session only
// up to the stop it was made for.
func (m *MetaStore) DeactivateIfNoEventSince(ctx context.Context, sid string, at time.Time) error {
	if err := deactivateIfScript.Run(ctx, m.rdb, []string{ActiveKey}, sid, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("session: deactivate %s: %w", sid, err)
	}
	return nil
}
