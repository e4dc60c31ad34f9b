//go:build race

package route

// The race detector allocates on its own; allocation counts are checked
// without it.
const raceEnabled = true
