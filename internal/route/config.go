package route

// Names are the routing options, in the option table's spelling; a config
// entry whose key is one of them becomes an Option, in config order.
var Names = []string{"route", "route-uri", "route-qs", "route-host", "route-remote-addr",
	"route-user-agent", "route-referer", "route-remote-user", "route-if", "route-if-not",
	"route-run", "route-label"}

// IsRouteOption reports whether name is one of Names.
func IsRouteOption(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}
