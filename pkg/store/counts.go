package store

import (
	"context"
	"time"
)

// Counts returns figures for a project ("" = all), from one statement and
// so one snapshot.
func (s *sqlStore) Counts(ctx context.Context, project string, since time.Time) (Counts, error) {
	if !storable(project) {
		return Counts{}, nil
	}
	var args []any
	// count is a scalar subquery of q, narrowed to the project by cond.
	count := func(q, cond string) string {
		if project != "" {
			q += cond
			args = append(args, project)
		}
		return "(" + q + ")"
	}
	const ofProject = ` WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = x.session_id AND s.project = ?)`
	usage := func(col, typ string) string {
		args = append(args, utc(since))
		return count(`SELECT CAST(coalesce(sum(`+col+`), 0) AS `+typ+`) FROM llm_usage WHERE at >= ?`, ` AND project = ?`)
	}
	tokens := func(col string) string { return usage(col, "BIGINT") }
	q := `SELECT ` + count(`SELECT count(*) FROM sessions`, ` WHERE project = ?`) +
		`, ` + count(`SELECT count(*) FROM sessions WHERE status = 'active'`, ` AND project = ?`) +
		`, ` + count(`SELECT count(*) FROM observations`, ` WHERE project = ?`) +
		`, ` + count(`SELECT count(*) FROM summaries`, ` WHERE project = ?`) +
		`, ` + count(`SELECT count(*) FROM prompts x`, ofProject) +
		`, ` + count(`SELECT count(*) FROM dead_letters x`, ofProject) +
		`, ` + tokens("input_tokens") + `, ` + tokens("output_tokens") +
		`, ` + usage("cost_usd", "DOUBLE PRECISION")
	var c Counts
	if err := scanOne(ctx, s.db.reads(), q, args, &c.Sessions, &c.ActiveSessions, &c.Observations, &c.Summaries,
		&c.Prompts, &c.DeadLetters, &c.InputTokens, &c.OutputTokens, &c.CostUSD); err != nil {
		return Counts{}, s.fail("counts", err)
	}
	return c, nil
}
