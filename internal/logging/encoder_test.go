package logging

import (
	"strings"
	"testing"
	"time"
)

// The expected bytes are what uWSGI 2.0.21 writes for the same encoders.
func TestEncoders(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 39, 5, 692215000, time.UTC)
	msg := []byte("MARK \"quoted\" \\ tab\there \xc3\xa9 \x01\r\xff\n")
	cases := []struct {
		specs  []string
		logger string
		want   string
	}{
		{[]string{"prefix [P]"}, "", "[P]" + string(msg)},
		{[]string{"prefix [P]", "suffix [S]"}, "", "[P]" + string(msg) + "[S]"},
		{[]string{"nl"}, "", string(msg) + "\n"},
		{[]string{"format <${msg}>"}, "", "<" + strings.TrimSuffix(string(msg), "\n") + ">"},
		{[]string{"format ${msgnl}|${unix}|${millis}|${micros}|${strftime:%Y-%m-%d %H}|${nope}|${msg"}, "",
			string(msg) + "|1795243145|1795243145692|1795243145692215|2026-11-21 06||${msg"},
		{[]string{`json {"m":"${msg}","n":"${msgnl}"}`}, "",
			`{"m":"MARK \"quoted\" \\ tab\there ` + "\xc3\xa9 \x01" + `\r` + "\xff" + `","n":"MARK \"quoted\" \\ tab\there ` + "\xc3\xa9 \x01" + `\r` + "\xff" + `\n"}`},
		{[]string{`json {"m":"${msg}"}`, "nl"}, "", `{"m":"MARK \"quoted\" \\ tab\there ` + "\xc3\xa9 \x01" + `\r` + "\xff" + `"}` + "\n"},
		// ENCODER:LOGGER applies to that logger only.
		{[]string{"prefix:a [A]", "prefix [all]"}, "a", "[all][A]" + string(msg)},
		{[]string{"prefix:a [A]", "prefix [all]"}, "b", "[all]" + string(msg)},
		{[]string{"prefix:a [A]"}, "", string(msg)},
		{[]string{"format"}, "", ""},
		{[]string{"prefix"}, "", string(msg)},
	}
	for _, c := range cases {
		var encs []*Encoder
		for _, s := range c.specs {
			e, err := ParseEncoder(s)
			if err != nil {
				t.Fatalf("ParseEncoder(%q): %v", s, err)
			}
			encs = append(encs, e)
		}
		got := string(EncodeFor(encs, c.logger, msg, now.In(time.UTC)))
		if got != c.want {
			t.Errorf("%q for %q:\ngot  %q\nwant %q", c.specs, c.logger, got, c.want)
		}
	}
}

func TestParseEncoderErrors(t *testing.T) {
	for _, spec := range []string{"gzip", "compress", "unknown x", "", ":a x"} {
		if e, err := ParseEncoder(spec); err == nil {
			t.Errorf("ParseEncoder(%q) = %+v, want an error", spec, e)
		}
	}
}

func FuzzEncoder(f *testing.F) {
	for _, s := range []string{"prefix x", "suffix:a y", "nl", "format ${msg}${msgnl}${unix}", "json {\"a\":\"${msg}\"}",
		"format ${strftime:%Y %%} ${", "json ${}${strftime:}"} {
		f.Add(s, []byte("line \"x\"\n"))
	}
	f.Fuzz(func(t *testing.T, spec string, msg []byte) {
		e, err := ParseEncoder(spec)
		if err != nil {
			return
		}
		out := e.Encode(nil, msg, time.Unix(1795242545, 0))
		if (e.Kind == "prefix" || e.Kind == "suffix" || e.Kind == "nl") && len(out) < len(msg) {
			t.Fatalf("%q lost bytes: %q -> %q", spec, msg, out)
		}
	})
}
