// Package dormancy marks users dormant who have not been authenticated for a long time (90
// days, as in Coder), so that they stop taking a seat of user_limit. Authenticating makes them
// active again (see the server's authentication and the login handler).
package dormancy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/store"
)

// Defaults: Coder's threshold, and a pass often enough that a user turns dormant within a
// quarter of an hour of their 90th day.
const (
	DefaultAfter    = 90 * 24 * time.Hour
	DefaultInterval = 15 * time.Minute
)

// Config is what the pass needs.
type Config struct {
	Store *store.Store
	// After is how long without authentication makes a user dormant; zero is DefaultAfter.
	After time.Duration
	// Interval is the time between passes; zero is DefaultInterval.
	Interval time.Duration
	// Recorder returns the audit recorder in force now.
	Recorder func() audit.Recorder
	// UsageChanged is told when the pass made anyone dormant, so every replica recounts seats.
	UsageChanged func(context.Context)
	Logger       *slog.Logger
}

// Run makes a pass at once and then every Interval, until ctx ends. Several replicas may run
// it at the same time: each user is marked, and recorded, by exactly one of them.
func Run(ctx context.Context, cfg Config) {
	interval := cfg.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := Pass(ctx, cfg); err != nil && ctx.Err() == nil {
			cfg.Logger.Error("mark dormant users", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Pass marks dormant every active user not authenticated for After, records each change in
// the audit log in the same transaction, and tells UsageChanged when it marked anyone. It
// returns how many users it marked.
func Pass(ctx context.Context, cfg Config) (int, error) {
	after := cfg.After
	if after <= 0 {
		after = DefaultAfter
	}
	now := store.Now()
	var marked []store.User
	err := cfg.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if marked, err = tx.MarkDormantUsers(ctx, now.Add(-after), now); err != nil {
			return err
		}
		recorder := cfg.Recorder()
		for _, u := range marked {
			err := recorder.Record(ctx, tx, audit.Entry{
				Action:         audit.ActionWrite,
				ResourceType:   audit.ResourceUser,
				ResourceID:     u.ID,
				ResourceTarget: u.Username,
				UserID:         uuid.Nil, // no one: the deployment itself
				Diff: audit.DiffOf(audit.Fields{"status": store.UserActive},
					audit.Fields{"status": store.UserDormant}),
			})
			if err != nil {
				return fmt.Errorf("record %s turning dormant: %w", u.Username, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(marked) > 0 {
		cfg.Logger.Info("users turned dormant", "count", len(marked), "after_hours", after.Hours())
		cfg.UsageChanged(ctx)
	}
	return len(marked), nil
}
