package packaging

// nfpm is pinned at v2.47.0: v2.48's rpm packager imports a module the Go
// module proxy does not serve, while v2.47's uses github.com/google/rpmpack.
import _ "github.com/goreleaser/nfpm/v2/rpm" // registers "rpm"
