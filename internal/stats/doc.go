// Package stats is gosgi's stats server as uWSGI users know it (`stats`,
// `stats-http`, `stats-minified`, `stats-no-cores`, `stats-no-metrics`):
// one JSON document per connection, with uWSGI 2.0's key order and
// whitespace layout (ST-1..ST-16), readable by uwsgitop and the Prometheus
// uwsgi_exporter.
//
// The master builds a Snapshot, usually with Collect (the shared
// scoreboard, the listening sockets and the master's identity), and hands a
// function returning one to Server.Serve. QueueMonitor reports full accept
// queues. The native Prometheus endpoint lives in the metrics subpackage.
//
// The package never reads configuration, never signals workers and decides
// nothing about them. It does not implement the emperor's stats document
// (ST-17), stats pushers, or uWSGI's metrics subsystem: a Snapshot may
// carry metrics, computed by the caller.
package stats
