package privs

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseCaps covers T-18's names and numbers.
func TestParseCaps(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []int
		err  bool
	}{
		{[]string{"setgid", "setuid"}, []int{6, 7}, false},
		{[]string{"CAP_NET_BIND_SERVICE", " chown "}, []int{10, 0}, false},
		{[]string{"21"}, []int{21}, false},
		{[]string{"sys_time", "checkpoint_restore"}, []int{25, 40}, false},
		{[]string{"fly"}, nil, true},
		{[]string{"64"}, nil, true},
	} {
		got, err := ParseCaps(tc.in)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParseCaps(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseCaps(f *testing.F) {
	f.Add("setgid,setuid")
	f.Add("0,63,cap_chown")
	f.Fuzz(func(t *testing.T, s string) {
		caps, err := ParseCaps(strings.Split(s, ","))
		if err != nil {
			return
		}
		for _, c := range caps {
			if c < 0 || c > 63 {
				t.Fatalf("ParseCaps(%q) gave %d", s, c)
			}
		}
		m := capMask(caps)
		for _, c := range caps {
			if m[c/32]&(1<<(c%32)) == 0 {
				t.Fatalf("mask lacks %d", c)
			}
		}
	})
}
