package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"entitle/api"
	"entitle/session"
	"entitle/store"
)

// SessionHeader is the header Coder's clients send the session token in.
const SessionHeader = "Coder-Session-Token"

// touchInterval bounds how often a session's expiry and a user's last use are written: once a
// minute at most, not on every request.
const touchInterval = time.Minute

// sessionTouchInterval is how often the expiry of sessions that last duration is written:
// touchInterval, or half the duration when that is shorter, so that a session used more often
// than that slides however short it is.
func sessionTouchInterval(duration time.Duration) time.Duration {
	return min(touchInterval, max(duration/2, time.Millisecond))
}

// Details of the 401s. Unknown id and wrong secret share one, so ids cannot be probed.
const (
	detailMissing   = "No session token was sent: use the Coder-Session-Token header, the coder_session_token cookie or query parameter, or Authorization: Bearer."
	detailMalformed = "The session token is malformed: it must be a 10-character id, a hyphen and a 22-character secret."
	detailInvalid   = "The session token is invalid."
)

// sessionToken reads the token from its four places, first match wins.
func sessionToken(req *http.Request) string {
	if v := req.Header.Get(SessionHeader); v != "" {
		return v
	}
	if c, err := req.Cookie(api.SessionCookie); err == nil && c.Value != "" {
		return c.Value
	}
	if v := req.URL.Query().Get(api.SessionCookie); v != "" {
		return v
	}
	if scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// authenticate finds the session and its user, sliding a session's expiry forward (a token's
// stays fixed).
func (s *Server) authenticate(ctx context.Context, req *http.Request) (api.Actor, error) {
	raw := sessionToken(req)
	if raw == "" {
		return api.Actor{}, api.Unauthorized(detailMissing)
	}
	tok, err := session.Parse(raw)
	if err != nil {
		return api.Actor{}, api.Unauthorized(detailMalformed)
	}
	key, user, err := s.store.Session(ctx, tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		return api.Actor{}, api.Unauthorized(detailInvalid)
	}
	if err != nil {
		return api.Actor{}, err
	}
	if !session.SecretMatches(tok.Secret, key.HashedSecret) {
		return api.Actor{}, api.Unauthorized(detailInvalid)
	}
	now := store.Now()
	if !now.Before(key.ExpiresAt) {
		return api.Actor{}, api.Unauthorized("The session token expired at " + key.ExpiresAt.UTC().Format(time.RFC3339) + ".")
	}
	// The status is read with the key on every request, so a suspension refuses the user's
	// tokens from the next request on, on every replica. Authenticating wakes a dormant user.
	if user, err = s.api.ReactivateDormantUser(ctx, user); err != nil {
		return api.Actor{}, err
	}
	if user.Status == store.UserSuspended {
		return api.Actor{}, &api.Error{Status: http.StatusUnauthorized, Message: fmt.Sprintf(api.MsgUserNotActive, user.Status)}
	}
	if s.keyTouches.claim(key.ID, key.LastUsed, now) {
		expiresAt := now.Add(s.cfg.SessionDuration).Truncate(time.Microsecond)
		if key.LoginType == store.LoginTypeToken {
			expiresAt = key.ExpiresAt // a token keeps the expiry it was made with
		}
		if err := s.store.TouchAPIKey(ctx, key.ID, now, expiresAt); err != nil {
			s.keyTouches.release(key.ID, now)
			return api.Actor{}, err
		}
	}
	// last_seen_at moves like a session's expiry: at most once a minute.
	if s.userTouches.claim(user.ID, user.LastSeenAt, now) {
		if err := s.store.TouchUser(ctx, user.ID, now); err != nil {
			s.userTouches.release(user.ID, now)
			return api.Actor{}, err
		}
		user.LastSeenAt = now
	}
	return api.Actor{User: user, APIKeyID: key.ID}, nil
}
