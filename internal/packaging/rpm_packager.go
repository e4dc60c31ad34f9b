//go:build gosgi_rpm

package packaging

// nfpm v2.48's rpm packager imports go.digitalxero.dev/rpm, which the
// module proxy does not serve; v2.47.0's uses github.com/google/rpmpack.
// Until go.mod pins nfpm v2.47.0 (plus rpmpack v0.7.1, cavaliergopher/cpio
// v1.0.1, klauspost/pgzip v1.2.6), the rpm packager is compiled in only
// with -tags gosgi_rpm and a go.mod that has them.
import _ "github.com/goreleaser/nfpm/v2/rpm" // registers "rpm"
