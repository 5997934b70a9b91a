package entitlements

import "context"

// What the tests in entitlements_test reach inside for.

// ReplicaTTL is how long a heartbeat keeps a replica counted.
const ReplicaTTL = replicaTTL

// Beat is one heartbeat tick of the Run loop.
func Beat(s *Service, ctx context.Context) { s.beat(ctx) }
