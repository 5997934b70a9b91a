package api

// How the handlers show one item, for tests that check a streamed list is, byte for byte, the
// list encoded whole.
var (
	OrganizationsResponse  = organizationsResponse
	MemberWithUserResponse = memberWithUserResponse
	OwnedAPIKeyResponse    = ownedAPIKeyResponse
	UserResponseWith       = userResponseWith
)
