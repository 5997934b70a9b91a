package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/api"
	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/store"
)

// longList is how many items each list holds in the memory test: enough that a list built in
// memory is many times what one chunk of a streamed list holds.
const longList = 20_000

// listCase is one list operation, answered two ways: by the handler as it is (streamed), and
// as the handlers answered before streaming (the whole list read, then encoded at once).
type listCase struct {
	name string
	// visit calls the handler and writes its response to w.
	visit func(ctx context.Context, w http.ResponseWriter) error
	// buffered is the body the list had when it was built in memory.
	buffered func(ctx context.Context) []byte
}

// listFixture is an API over a database holding long lists, with the owner signed in.
type listFixture struct {
	api   *api.API
	store *store.Store
	// ctx carries the owner as the signed-in actor.
	ctx   context.Context
	owner store.User
	crew  uuid.UUID
}

// newListFixture seeds n organizations (the owner in each), members of crew, and licenses,
// and tokens of the owner.
func newListFixture(t *testing.T, db testenv.Database, n, tokens int) *listFixture {
	t.Helper()
	cfg := db.NewConfig(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	a, err := api.New(api.Config{Store: st, Logger: slog.New(slog.NewTextHandler(testLog{t}, nil)), PasswordHashCost: 4})
	require.NoError(t, err)

	owner := store.User{ID: uuid.New(), Username: "owner", Email: "owner@example.com", HashedPassword: []byte("x"), SiteRole: store.RoleOwner}
	require.NoError(t, st.CreateUser(ctx, &owner))
	owner, err = st.UserByID(ctx, owner.ID) // as the auth middleware reads it
	require.NoError(t, err)

	seed := testenv.NewSeeder(t, st)
	crew := seed.Organizations("crew", 1, owner.ID)[0]
	seed.Organizations("org", n, owner.ID)
	seed.Members("member", n, crew)
	seed.Tokens("token", tokens, owner.ID)
	seed.Licenses(n)
	return &listFixture{
		api:   a,
		store: st,
		ctx:   api.WithActor(ctx, api.Actor{User: owner}),
		owner: owner,
		crew:  crew,
	}
}

func (f *listFixture) lists(t *testing.T) []listCase {
	everything := store.Page{}
	return []listCase{
		{
			name: "GET /organizations",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.ListOrganizations(ctx, gen.ListOrganizationsRequestObject{})
				require.NoError(t, err)
				return resp.VisitListOrganizationsResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				orgs, err := f.store.ListOrganizations(ctx, everything)
				require.NoError(t, err)
				return recorded(t, gen.ListOrganizations200JSONResponse(api.OrganizationsResponse(orgs)).VisitListOrganizationsResponse)
			},
		},
		{
			name: "GET /users/me/organizations",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.ListUserOrganizations(ctx, gen.ListUserOrganizationsRequestObject{User: "me"})
				require.NoError(t, err)
				return resp.VisitListUserOrganizationsResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				orgs, err := f.store.ListOrganizationsOfUser(ctx, f.owner.ID, everything)
				require.NoError(t, err)
				return recorded(t, gen.ListUserOrganizations200JSONResponse(api.OrganizationsResponse(orgs)).VisitListUserOrganizationsResponse)
			},
		},
		{
			name: "GET /organizations/{organization}/members",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.ListOrganizationMembers(ctx, gen.ListOrganizationMembersRequestObject{Organization: f.crew.String()})
				require.NoError(t, err)
				return resp.VisitListOrganizationMembersResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				return recorded(t, gen.ListOrganizationMembers200JSONResponse(f.members(t, ctx)).VisitListOrganizationMembersResponse)
			},
		},
		{
			name: "GET /organizations/{organization}/paginated-members",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.PaginatedOrganizationMembers(ctx, gen.PaginatedOrganizationMembersRequestObject{Organization: f.crew.String()})
				require.NoError(t, err)
				return resp.VisitPaginatedOrganizationMembersResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				count, err := f.store.CountMembers(ctx, f.crew)
				require.NoError(t, err)
				resp := gen.PaginatedOrganizationMembers200JSONResponse{Members: f.members(t, ctx), Count: int(count)}
				return recorded(t, resp.VisitPaginatedOrganizationMembersResponse)
			},
		},
		{
			name: "GET /users/{user}/keys/tokens",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.ListTokens(ctx, gen.ListTokensRequestObject{User: "me"})
				require.NoError(t, err)
				return resp.VisitListTokensResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				keys, err := f.store.TokensOfUser(ctx, f.owner.ID, store.TokenPage{})
				require.NoError(t, err)
				resp := gen.ListTokens200JSONResponse{}
				for _, k := range keys {
					resp = append(resp, api.OwnedAPIKeyResponse(k))
				}
				return recorded(t, resp.VisitListTokensResponse)
			},
		},
		{
			name: "GET /licenses",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.GetLicenses(ctx, gen.GetLicensesRequestObject{})
				require.NoError(t, err)
				return resp.VisitGetLicensesResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				rows, err := f.store.Licenses(ctx)
				require.NoError(t, err)
				return licensesVerbatim(t, rows)
			},
		},
		{
			name: "GET /users/me",
			visit: func(ctx context.Context, w http.ResponseWriter) error {
				resp, err := f.api.GetCurrentUser(ctx, gen.GetCurrentUserRequestObject{})
				require.NoError(t, err)
				return resp.VisitGetCurrentUserResponse(w)
			},
			buffered: func(ctx context.Context) []byte {
				// The user's organizations, by id.
				ids, err := f.store.OrganizationIDsOfUser(ctx, f.owner.ID)
				require.NoError(t, err)
				slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
				user := api.UserResponseWith(f.owner, ids)
				return recorded(t, gen.GetCurrentUser200JSONResponse(user).VisitGetCurrentUserResponse)
			},
		},
	}
}

// members is the crew's members as the list shows them, read whole.
func (f *listFixture) members(t *testing.T, ctx context.Context) []gen.OrganizationMemberWithUserData {
	members, err := f.store.ListMembers(ctx, f.crew, store.Page{})
	require.NoError(t, err)
	shown := []gen.OrganizationMemberWithUserData{}
	for _, m := range members {
		shown = append(shown, api.MemberWithUserResponse(m))
	}
	return shown
}

// measuredLists are the lists whose memory is measured: one of each way a list is read or
// written (a plain list, a list inside an object with a count, a user's organization ids, the
// licenses with their verbatim claims). The others are read and written the same way.
var measuredLists = map[string]bool{
	"GET /organizations": true,
	"GET /organizations/{organization}/paginated-members": true,
	"GET /users/me": true,
	"GET /licenses": true,
}

// TestListsStreamInConstantMemory lists long lists through the handlers and checks that the
// memory an answer holds at any moment is a small fraction of its size: the rows are encoded as
// they are read, a chunk at a time, instead of all at once. (TestStreamedLists checks the
// answers are the lists encoded at once, byte for byte.)
func TestListsStreamInConstantMemory(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		f := newListFixture(t, db, longList, 0)
		for _, list := range f.lists(t) {
			if !measuredLists[list.name] {
				continue
			}
			t.Run(list.name, func(t *testing.T) {
				// A first answer to a client that goes away at once: what is made on first use
				// (a driver's statement cache, an ORM's schema) is not the answer's to count.
				_ = list.visit(f.ctx, &meteredWriter{hash: sha256.New(), gone: true})

				w := &meteredWriter{hash: sha256.New(), sampleEvery: 4}
				base := liveHeap()
				require.NoError(t, list.visit(f.ctx, w))
				w.sample()
				growth := int64(w.peak) - int64(base)

				assert.Equal(t, http.StatusOK, w.status)
				// The shortest item is an organization id: a quoted UUID and a comma.
				require.Greater(t, w.size, longList*len(`"00000000-0000-0000-0000-000000000000",`), "every item was written")
				t.Logf("%s: %d bytes, peak live heap growth %d bytes (%.1f bytes per item)", list.name, w.size, growth, float64(growth)/longList)
				// A list built in memory holds at least its encoding (the whole body) at once;
				// a stream holds one chunk of rows and a write buffer.
				assert.Less(t, growth, int64(w.size/4), "the answer held at most a quarter of its size in memory at once")
			})
		}
		// The owner is in more organizations than store.manyMemberships: theirs are read by
		// walking every organization, not by sorting their memberships.
		for _, list := range f.lists(t) {
			if list.name == "GET /users/me/organizations" || list.name == "GET /users/me" {
				t.Run(list.name+" of a user in many organizations is the list encoded at once", func(t *testing.T) {
					requireBuffered(t, f.ctx, list)
				})
			}
		}
	})
}

// TestStreamedLists checks that each list, read in several chunks, is exactly the list read and
// encoded at once as the handlers did before streaming; that pages, which take the same path,
// are too (the first item, a page inside a run of items that share a created_at, pages that
// cross what one chunk holds, the empty list); and that a client that stops reading holds no
// database connection.
func TestStreamedLists(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		f := newListFixture(t, db, 2*store.ChunkSize+500, 2*store.ChunkSize+500)
		orgs, err := f.store.ListOrganizations(f.ctx, store.Page{})
		require.NoError(t, err)
		middle := orgs[1200].ID.String()
		cases := []struct{ limit, offset, afterID string }{
			{"1", "", ""},
			{"1000", "", ""},
			{"1000", "999", ""},
			{"", "1999", ""},
			{"7", "3", middle},
			{"", "", middle},
			{"", "", orgs[len(orgs)-1].ID.String()},
			{"", "100000", ""},
		}
		for _, list := range f.lists(t) {
			t.Run(list.name+" is the list encoded at once, byte for byte", func(t *testing.T) {
				requireBuffered(t, f.ctx, list)
			})
		}
		for _, c := range cases {
			name := "a page is the same with " + fmt.Sprintf("limit=%s offset=%s after_id=%s", c.limit, c.offset, c.afterID)
			t.Run(name, func(t *testing.T) {
				req := gen.ListOrganizationsRequestObject{Params: gen.ListOrganizationsParams{Limit: optional(c.limit), Offset: optional(c.offset), AfterId: optional(c.afterID)}}
				resp, err := f.api.ListOrganizations(f.ctx, req)
				require.NoError(t, err)
				got := recorded(t, resp.VisitListOrganizationsResponse)

				page := store.Page{Limit: atoi(t, c.limit), Offset: atoi(t, c.offset)}
				if c.afterID != "" {
					page.AfterID = uuid.MustParse(c.afterID)
				}
				want, err := f.store.ListOrganizations(f.ctx, page)
				require.NoError(t, err)
				assert.Equal(t, string(recorded(t, gen.ListOrganizations200JSONResponse(api.OrganizationsResponse(want)).VisitListOrganizationsResponse)), string(got))
			})
		}
		t.Run("no database connection is held while the client reads", func(t *testing.T) {
			sqlDB, err := f.store.SQLDB()
			require.NoError(t, err)
			for _, list := range f.lists(t) {
				w := &stalledWriter{stalled: make(chan struct{}), resume: make(chan struct{})}
				done := make(chan error, 1)
				go func() { done <- list.visit(f.ctx, w) }()
				<-w.stalled
				// The client has stopped reading in the middle of the list.
				assert.Zero(t, sqlDB.Stats().InUse, "%s: connections in use while the client does not read", list.name)
				close(w.resume)
				require.NoError(t, <-done)
			}
		})
		t.Run("a user without tokens gets an empty list", func(t *testing.T) {
			member := store.User{ID: uuid.New(), Username: "tokenless", Email: "tokenless@example.com", HashedPassword: []byte("x"), SiteRole: store.RoleMember}
			require.NoError(t, f.store.CreateUser(f.ctx, &member))
			resp, err := f.api.ListTokens(api.WithActor(context.Background(), api.Actor{User: member}), gen.ListTokensRequestObject{User: "me"})
			require.NoError(t, err)
			assert.Equal(t, "[]\n", string(recorded(t, resp.VisitListTokensResponse)))
		})
	})
}

// stalledWriter is a client that stops reading at the first write of an answer, until resumed.
type stalledWriter struct {
	header  http.Header
	stalled chan struct{}
	resume  chan struct{}
	writes  int
}

func (s *stalledWriter) Header() http.Header {
	if s.header == nil {
		s.header = http.Header{}
	}
	return s.header
}

func (s *stalledWriter) WriteHeader(int) {}

func (s *stalledWriter) Write(p []byte) (int, error) {
	if s.writes == 0 {
		close(s.stalled)
		<-s.resume
	}
	s.writes++
	return len(p), nil
}

// requireBuffered checks the streamed list is the list encoded at once, byte for byte.
func requireBuffered(t *testing.T, ctx context.Context, list listCase) {
	w := &meteredWriter{hash: sha256.New()}
	require.NoError(t, list.visit(ctx, w))
	want := list.buffered(ctx)
	assert.Equal(t, http.StatusOK, w.status)
	assert.Equal(t, "application/json", w.header.Get("Content-Type"))
	require.Equal(t, len(want), w.size, "the streamed body is as long as the buffered one")
	assert.Equal(t, sha256.Sum256(want), [sha256.Size]byte(w.hash.Sum(nil)), "the streamed body is the buffered one")
}

// meteredWriter is a client that reads a response as it arrives without keeping it: it hashes
// the bytes and, every sampleEvery writes, collects garbage and notes the live heap, so that the
// most memory the response held at any write is known.
type meteredWriter struct {
	header      http.Header
	status      int
	hash        hash.Hash
	size        int
	writes      int
	sampleEvery int
	peak        uint64
	// gone makes every write fail, as for a client that went away.
	gone bool
}

func (m *meteredWriter) Header() http.Header {
	if m.header == nil {
		m.header = http.Header{}
	}
	return m.header
}

func (m *meteredWriter) WriteHeader(status int) { m.status = status }

func (m *meteredWriter) Write(p []byte) (int, error) {
	if m.gone {
		return 0, errors.New("connection reset by peer")
	}
	if m.status == 0 {
		m.status = http.StatusOK
	}
	m.hash.Write(p)
	m.size += len(p)
	if m.sampleEvery > 0 && m.writes%m.sampleEvery == 0 {
		m.sample()
	}
	m.writes++
	return len(p), nil
}

func (m *meteredWriter) sample() { m.peak = max(m.peak, liveHeap()) }

// liveHeap is the memory reachable now: the heap right after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// recorded is the body a response writes.
func recorded(t *testing.T, visit func(http.ResponseWriter) error) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	require.NoError(t, visit(rec))
	return rec.Body.Bytes()
}

// licensesVerbatim is the license list as the contract writes it: each license's claims exactly
// as its token carries them, not re-encoded.
func licensesVerbatim(t *testing.T, rows []store.LicenseRow) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		uploaded, err := json.Marshal(row.UploadedAt.UTC())
		require.NoError(t, err)
		fmt.Fprintf(&b, `{"id":%d,"uuid":%q,"uploaded_at":%s,"claims":%s}`, row.ID, row.UUID, uploaded, license.ShownClaims(row.JWT))
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func atoi(t *testing.T, s string) int {
	if s == "" {
		return 0
	}
	var n int
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}

// testLog sends the API's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
