package worker

// metricFunc answers %(metric.NAME) in logformat from the scoreboard's
// metrics region, as uwsgi.metric_get does: an unknown name, or metrics
// turned off, reads 0 (uWSGI prints 0 too).
func (w *Worker) metricFunc() func(name string) (int64, bool) {
	slots := make(map[string]int, len(w.spec.Metrics))
	for _, m := range w.spec.Metrics {
		slots[m.Name] = m.Slot
	}
	return func(name string) (int64, bool) {
		slot, ok := slots[name]
		if !ok || w.board == nil {
			return 0, true
		}
		return w.board.Metric(slot).Load(), true
	}
}
