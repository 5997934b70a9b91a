package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/store"
)

// The contract's login limits: failed logins per email and per client address within the window.
const (
	loginFailuresPerEmail      = 10
	loginFailuresPerAddress    = 50
	defaultLoginThrottleWindow = 15 * time.Minute
)

// errNoClientAddress means a handler that throttles by client address ran without one: a
// wiring bug, since the server's middleware always sets it.
var errNoClientAddress = errors.New("no client address in the request context")

// clientAddressFrom is the address of the client that sent the request: the connection's peer,
// which the server's middleware puts in the request's details (audit.Request).
func clientAddressFrom(ctx context.Context) (netip.Addr, error) {
	r, ok := audit.RequestOf(ctx)
	if !ok {
		return netip.Addr{}, errNoClientAddress
	}
	return r.ClientAddress, nil
}

// loginThrottle counts login attempts per email and per client address in the database, so
// that every replica counts together.
//
// An attempt is counted before its password is checked, in one statement per key that returns
// the new count: of any number of concurrent attempts, at most the limit get their password
// checked and the rest are refused unchecked. Counting after the check would let an attacker
// who sends many attempts at once try them all before any was counted. An attempt that turns
// out not to be a failure is taken back: a throttled one (no password was checked) from both
// counters, a successful one from the address's (the email's is cleared altogether).
type loginThrottle struct {
	store  *store.Store
	window time.Duration
	logger *slog.Logger
	// lastPrune is when this process last deleted expired counters, in Unix nanoseconds.
	lastPrune atomic.Int64
}

// loginAttempt is one attempt's place in its email's and its address's counts.
type loginAttempt struct {
	emailDigest string
	client      netip.Addr
	email       store.LoginThrottle
	address     store.LoginThrottle
}

// count counts an attempt for email from client, and now and then deletes the counters whose
// window has passed, so that the table holds about one window's worth of keys.
func (lt *loginThrottle) count(ctx context.Context, email string, client netip.Addr) (loginAttempt, error) {
	now := store.Now()
	lt.pruneIfDue(ctx, now)
	attempt := loginAttempt{emailDigest: emailDigest(email), client: client}
	var err error
	if attempt.email, err = lt.store.CountLoginAttempt(ctx, "email:"+attempt.emailDigest, now, lt.window); err != nil {
		return loginAttempt{}, err
	}
	if attempt.address, err = lt.store.CountLoginAttempt(ctx, "addr:"+addressKey(client), now, lt.window); err != nil {
		return loginAttempt{}, err
	}
	return attempt, nil
}

func (lt *loginThrottle) pruneIfDue(ctx context.Context, now time.Time) {
	last := lt.lastPrune.Load()
	if now.UnixNano()-last < int64(lt.window) || !lt.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := lt.store.DeleteExpiredLoginThrottles(ctx, now.Add(-lt.window)); err != nil {
		// Only housekeeping: the next attempt after another window tries again.
		lt.logger.Warn("delete expired login throttles", "error", err)
	}
}

// throttledBy names the limits the attempt is over: "", "email", "address" or "email+address".
func (a loginAttempt) throttledBy() string {
	var over []string
	if a.email.Failures > loginFailuresPerEmail {
		over = append(over, "email")
	}
	if a.address.Failures > loginFailuresPerAddress {
		over = append(over, "address")
	}
	return strings.Join(over, "+")
}

// retryAfter is the whole seconds until every window the attempt is over has ended.
func (a loginAttempt) retryAfter(now time.Time, window time.Duration) int {
	var wait time.Duration
	if a.email.Failures > loginFailuresPerEmail {
		wait = max(wait, a.email.WindowStart.Add(window).Sub(now))
	}
	if a.address.Failures > loginFailuresPerAddress {
		wait = max(wait, a.address.WindowStart.Add(window).Sub(now))
	}
	return max(int(math.Ceil(wait.Seconds())), 1)
}

// throttledLogin refuses an attempt over a limit without checking its password. It looks the
// same whether or not the email names a user: no user is looked up.
func (a *API) throttledLogin(ctx context.Context, attempt loginAttempt) (gen.LoginWithPasswordResponseObject, error) {
	// No password was checked, so this attempt is no failure; counts above the limit only
	// grow with concurrent attempts, each of which takes its own back.
	for _, key := range []string{attempt.email.Key, attempt.address.Key} {
		if err := a.loginThrottle.store.UncountLoginAttempt(ctx, key); err != nil {
			return nil, err
		}
	}
	seconds := attempt.retryAfter(store.Now(), a.loginThrottle.window)
	a.logLoginAttempt(ctx, "login throttled", attempt, attempt.email.Failures-1, attempt.address.Failures-1,
		slog.String("throttled_by", attempt.throttledBy()), slog.Int("retry_after_seconds", seconds))
	unit := "seconds"
	if seconds == 1 {
		unit = "second"
	}
	return gen.LoginWithPassword429JSONResponse{
		Body:    message(fmt.Sprintf("Too many failed login attempts. Try again in %d %s.", seconds, unit), ""),
		Headers: gen.LoginWithPassword429ResponseHeaders{RetryAfter: seconds},
	}, nil
}

// failedLogin refuses an attempt whose email or password is wrong; it stays counted.
// userID is nil when the email names no user.
func (a *API) failedLogin(ctx context.Context, attempt loginAttempt, userID *uuid.UUID) (gen.LoginWithPasswordResponseObject, error) {
	var user []slog.Attr
	if userID != nil {
		user = append(user, slog.String("user_id", userID.String()))
	}
	a.logLoginAttempt(ctx, "login failed", attempt, attempt.email.Failures, attempt.address.Failures, user...)
	return gen.LoginWithPassword401JSONResponse{UnauthorizedJSONResponse: gen.UnauthorizedJSONResponse(message(msgBadLogin, ""))}, nil
}

// loginSucceeded clears the email's failures and takes the attempt back from the address's:
// a success is no failure, but it must not clear an address's count either, or one account's
// owner could reset the limit for guesses against every other account.
func (lt *loginThrottle) loginSucceeded(ctx context.Context, attempt loginAttempt) error {
	if err := lt.store.ResetLoginAttempts(ctx, attempt.email.Key); err != nil {
		return err
	}
	return lt.store.UncountLoginAttempt(ctx, attempt.address.Key)
}

// logLoginAttempt writes the audit line of a refused sign-in. The email appears only as its
// SHA-256 (the same digest as its counter's key): an operator can still find the attempts on
// an account by hashing its email, but a password typed into the email box, or an address
// that names no user, is not copied in the clear into logs that travel further than the
// database. The password never appears. The client address is the connection's peer.
func (a *API) logLoginAttempt(ctx context.Context, msg string, attempt loginAttempt, emailFailures, addressFailures int, extra ...slog.Attr) {
	attrs := append([]slog.Attr{
		slog.String("email_sha256", attempt.emailDigest),
		slog.String("client_address", attempt.client.String()),
		slog.Int("email_failures", emailFailures),
		slog.Int("address_failures", addressFailures),
		slog.Duration("window", a.loginThrottle.window),
	}, extra...)
	a.logger.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

// emailDigest is the hex SHA-256 of the email in lower case: the email's counter key (emails
// are unique ignoring case) without keeping the address itself.
func emailDigest(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

// addressKey is the part of a client address that is counted: the whole IPv4 address, or the
// /64 of an IPv6 one, since one site is routinely given a whole /64 and could otherwise use a
// fresh address for every attempt.
func addressKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return "unknown"
	}
	if addr.Is6() {
		prefix, err := addr.Prefix(64)
		if err == nil {
			return prefix.String()
		}
	}
	return addr.String()
}
