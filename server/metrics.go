package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"entitle/audit"
	"entitle/entitlements"
	"entitle/store"
)

// metrics owns the server's Prometheus registry; nothing registers globally.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// observers holds each label set's counter and histogram (observerKey to *observers):
	// looking a series up in the vectors hashes its labels on every request.
	observers sync.Map
}

// observerKey is one label set of the request metrics.
type observerKey struct {
	method, route string
	status        int
}

// observers are one label set's series.
type observers struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// auditEntries counts the audit entries this replica recorded. It is made before the
// entitlements service, whose audit recorder tells it of each entry (countAuditEntry), and
// registered with the rest by newMetrics.
type auditEntries struct {
	counter *prometheus.CounterVec
}

func newAuditEntries() auditEntries {
	return auditEntries{counter: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "entitle_audit_entries_total",
		Help: "Audit entries this replica recorded, by action and resource type, counted once the change they record has committed.",
	}, []string{"action", "resource_type"})}
}

// count is told of each entry once its transaction has committed (audit.Writer.Committed), so
// a change rolled back is never counted. Sum over the replicas for the deployment's figure.
func (a auditEntries) count(e audit.Entry) {
	a.counter.WithLabelValues(string(e.Action), string(e.ResourceType)).Inc()
}

func newMetrics(st *store.Store, ent *entitlements.Service, audited auditEntries, logger *slog.Logger) (*metrics, error) {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "entitle_http_requests_total",
			Help: "HTTP requests answered, by route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "entitle_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route template and status.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	sqlDB, err := st.SQLDB()
	if err != nil {
		return nil, err
	}
	m.registry.MustRegister(
		m.requests,
		m.latency,
		audited.counter,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(sqlDB, string(st.Dialect())),
		&licenseCollector{ent: ent, logger: logger},
		&seatCollector{store: st},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "entitle_organization_offset_marks",
			Help: "Places in the list of organizations this replica keeps, one every 1000 rows, so that a page by offset starts near its first row; 0 while its caches keep nothing.",
		}, func() float64 { return float64(st.OffsetMarks()) }),
	)
	return m, nil
}

// observe counts a request once its status is known, under the route name the access log
// uses too (routeName) and a method of HTTP's own (any other is "other"), so requests cannot
// grow the series without bound.
func (m *metrics) observe(method, route string, status int, elapsed time.Duration) {
	key := observerKey{method: metricMethod(method), route: route, status: status}
	o, ok := m.observers.Load(key)
	if !ok {
		code := strconv.Itoa(status)
		o, _ = m.observers.LoadOrStore(key, &observers{
			requests: m.requests.WithLabelValues(key.method, route, code),
			latency:  m.latency.WithLabelValues(key.method, route, code),
		})
	}
	series := o.(*observers)
	series.requests.Inc()
	series.latency.Observe(elapsed.Seconds())
}

// metricMethod is the method label of a request: its method when HTTP defines it, else "other".
func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// licenseCollector reads the entitlements held in memory at scrape time.
type licenseCollector struct {
	ent    *entitlements.Service
	logger *slog.Logger
}

var (
	featureDesc = prometheus.NewDesc("entitle_feature_enabled",
		"1 when the feature is entitled or in its grace period, else 0; the entitlement label says which.",
		[]string{"feature", "entitlement"}, nil)
	licenseExpiresDesc = prometheus.NewDesc("entitle_license_expires_seconds",
		"Seconds until the latest paid term of the licenses in force ends (negative once it has); absent without a license.",
		nil, nil)
	activeUsersDesc = prometheus.NewDesc("entitle_active_users", "Active users, as counted against user_limit.", nil, nil)
	userLimitDesc   = prometheus.NewDesc("entitle_user_limit", "The licensed user limit; absent when no license sets one.", nil, nil)
	hasLicenseDesc  = prometheus.NewDesc("entitle_has_license", "1 when some license is in force.", nil, nil)
	// For the alert rules and dashboard in deploy/: GET /entitlements/explain says which.
	warningsDesc = prometheus.NewDesc("entitle_entitlement_warnings", "Warnings the entitlements carry now.", nil, nil)
	errorsDesc   = prometheus.NewDesc("entitle_entitlement_errors", "Errors the entitlements carry now.", nil, nil)
	replicasDesc = prometheus.NewDesc("entitle_replicas", "Replicas of the deployment the entitlements were computed with.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *licenseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{featureDesc, licenseExpiresDesc, activeUsersDesc, userLimitDesc, hasLicenseDesc, warningsDesc, errorsDesc, replicasDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *licenseCollector) Collect(ch chan<- prometheus.Metric) {
	ent := c.ent.Current()
	for name, f := range ent.Features {
		ch <- prometheus.MustNewConstMetric(featureDesc, prometheus.GaugeValue, boolValue(f.Enabled), name, string(f.Entitlement))
	}
	if end := c.ent.LatestLicenseExpires(); !end.IsZero() {
		ch <- prometheus.MustNewConstMetric(licenseExpiresDesc, prometheus.GaugeValue, time.Until(end).Seconds())
	}
	if users, ok := ent.Features[userLimitFeature]; ok {
		if users.Actual != nil {
			ch <- prometheus.MustNewConstMetric(activeUsersDesc, prometheus.GaugeValue, float64(*users.Actual))
		}
		if users.Limit != nil {
			ch <- prometheus.MustNewConstMetric(userLimitDesc, prometheus.GaugeValue, float64(*users.Limit))
		}
	}
	ch <- prometheus.MustNewConstMetric(hasLicenseDesc, prometheus.GaugeValue, boolValue(ent.HasLicense))
	ch <- prometheus.MustNewConstMetric(warningsDesc, prometheus.GaugeValue, float64(len(ent.Warnings)))
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.GaugeValue, float64(len(ent.Errors)))
	ch <- prometheus.MustNewConstMetric(replicasDesc, prometheus.GaugeValue, float64(c.ent.Replicas()))
}

const userLimitFeature = "user_limit"

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seatCollector counts the users by status and reads the seat high-water mark at scrape time,
// from the database, so every replica reports the same figures.
type seatCollector struct {
	store *store.Store
}

var (
	usersDesc = prometheus.NewDesc("entitle_users",
		"Users by status: active users take a seat of user_limit; dormant and suspended ones do not.",
		[]string{"status"}, nil)
	highWaterDesc = prometheus.NewDesc("entitle_seats_high_water_mark",
		"The most users ever active at once.", nil, nil)
)

// seatScrapeTimeout bounds the two queries of a scrape.
const seatScrapeTimeout = 5 * time.Second

// Describe implements prometheus.Collector.
func (c *seatCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usersDesc
	ch <- highWaterDesc
}

// Collect implements prometheus.Collector. A database that does not answer fails the scrape
// of these series (Prometheus shows the error) rather than reporting zeros.
func (c *seatCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), seatScrapeTimeout)
	defer cancel()
	seats, err := c.store.SeatCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(usersDesc, err)
		return
	}
	for status, n := range map[string]int64{
		store.UserActive:    seats.Active,
		store.UserDormant:   seats.Dormant,
		store.UserSuspended: seats.Suspended,
	} {
		ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(highWaterDesc, prometheus.GaugeValue, float64(seats.HighWaterMark))
}
