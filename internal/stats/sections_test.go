package stats

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCache2(t *testing.T) {
	cases := []struct {
		in   string
		want Cache
		err  string
	}{
		{in: "name=mycache,items=100", want: Cache{Name: "mycache", Hash: "djb33x", HashSize: 65536, KeySize: 2048,
			MaxItems: 100, Blocks: 100, BlockSize: 65536}},
		{in: " name = x , maxitems=5,blocksize=4k,keysize=64,hash=murmur2,hashsize=1024", want: Cache{Name: "x",
			Hash: "murmur2", HashSize: 1024, KeySize: 64, MaxItems: 5, Blocks: 5, BlockSize: 4096}},
		{in: "name=m,items=3,blocksize=2M", want: Cache{Name: "m", Hash: "djb33x", HashSize: 65536, KeySize: 2048,
			MaxItems: 3, Blocks: 3, BlockSize: 2 << 20}},
		{in: "items=10", err: "you have to specify a cache name"},
		{in: "name=x", err: "items must be a positive number"},
		{in: "name=x,items=0", err: "items must be a positive number"},
		{in: "name=x,items=-4", err: "items must be a positive number"},
		{in: "name=x,items=4,blocksize=big", err: "blocksize"},
		{in: "name=x,items=4,keysize=0", err: "keysize"},
		{in: "name=x,items=4,hashsize=z", err: "hashsize"},
		{in: "", err: "cache name"},
	}
	for _, c := range cases {
		got, err := ParseCache2(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseCache2(%q) error = %v, want one with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseCache2(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// TestCachesFromConfigOrder: the legacy cache comes first whatever the
// option order, as in uWSGI (and as the Python side numbers the counters);
// a refused entry is left out and reported.
func TestCachesFromConfigOrder(t *testing.T) {
	caches, errs := CachesFromConfig([]string{"3", "7"}, []string{"1k"}, []string{"name=a,items=2", "bad", "name=b,items=4"})
	var names []string
	for _, c := range caches {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"default", "a", "b"}) || len(errs) != 1 {
		t.Fatalf("caches %v, errors %v", names, errs)
	}
	if d := caches[0]; d.MaxItems != 7 || d.BlockSize != 1024 {
		t.Errorf("legacy cache %+v: want the last cache value (7) and cache-blocksize", d)
	}
	if c, _ := CachesFromConfig(nil, []string{"1k"}, nil); len(c) != 0 {
		t.Errorf("cache-blocksize alone made caches: %+v", c)
	}
	if c, errs := CachesFromConfig([]string{"zero"}, nil, nil); len(c) != 0 || len(errs) != 1 {
		t.Errorf("cache = zero: %+v, %v", c, errs)
	}
}

func TestParseCron(t *testing.T) {
	cases := []struct {
		in   string
		want Cron
		ok   bool
	}{
		{"-1 -1 -1 -1 -1 true", Cron{-1, -1, -1, -1, -1, "true", false, "", -1, 0, 0}, true},
		{"0 0 31 2 -1 touch /tmp/x y", Cron{0, 0, 31, 2, -1, "touch /tmp/x y", false, "", -1, 0, 0}, true},
		{"  -5\t2 1 12 7   echo  a  b", Cron{-5, 2, 1, 12, 7, "echo  a  b", false, "", -1, 0, 0}, true},
		{"59 23 1 1 0 x", Cron{59, 23, 1, 1, 0, "x", false, "", -1, 0, 0}, true},
		{"60 0 1 1 0 x", Cron{}, false},  // minute out of range
		{"0 24 1 1 0 x", Cron{}, false},  // hour
		{"0 0 0 1 0 x", Cron{}, false},   // day starts at 1
		{"0 0 1 13 0 x", Cron{}, false},  // month
		{"0 0 1 1 8 x", Cron{}, false},   // weekday
		{"-61 0 1 1 0 x", Cron{}, false}, // every 61 minutes
		{"a 0 1 1 0 x", Cron{}, false},
		{"1 2 3 4 5", Cron{}, false}, // no command
		{"1 2 3 4 5   ", Cron{}, false},
		{"", Cron{}, false},
	}
	for _, c := range cases {
		got, err := ParseCron(c.in)
		if !c.ok {
			if !errors.Is(err, errCronSyntax) {
				t.Errorf("ParseCron(%q) = %+v, %v; want invalid cron syntax", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseCron(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseCache2(f *testing.F) {
	for _, s := range []string{"name=x,items=5", "name=a,maxitems=3,blocksize=4k,keysize=10,hash=h,hashsize=9",
		"name=,items=", "=,=,", "name=x,items=9,blocksize=99999999999G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCache2(s)
		if err != nil {
			return
		}
		if c.Name == "" || c.MaxItems <= 0 || c.Blocks != c.MaxItems || c.BlockSize <= 0 || c.KeySize <= 0 || c.HashSize <= 0 {
			t.Fatalf("ParseCache2(%q) accepted %+v", s, c)
		}
		if out := AppendJSON(nil, &Snapshot{Caches: []Cache{c}}, Format{}); len(out) == 0 {
			t.Fatal("empty document")
		}
	})
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"-1 -1 -1 -1 -1 true", "0 0 31 2 -1 x", "1 2 3 4 5", "-59 -23 -31 -12 -7 a b", "\u00a01 2 3 4 5 c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCron(s)
		if err != nil {
			return
		}
		for i, v := range []int{c.Minute, c.Hour, c.Day, c.Month, c.Week} {
			r := cronRanges[i]
			if v < -r.hi || (v >= 0 && (v < r.lo || v > r.hi)) {
				t.Fatalf("ParseCron(%q) accepted %s %d", s, r.name, v)
			}
		}
		if c.Command == "" || c.Pid != -1 {
			t.Fatalf("ParseCron(%q) = %+v", s, c)
		}
	})
}

func TestParseCron2(t *testing.T) {
	cases := []struct {
		in   string
		want Cron
		ok   bool
	}{
		{"minute=-1,unique=1 sleep 70; echo x", Cron{-1, -1, -1, -1, -1, "sleep 70; echo x", true, "", -1, 0, 0}, true},
		{"minute=5,hour=2,day=1,month=12,week=0,harakiri=30 run it", Cron{5, 2, 1, 12, 0, "run it", false, "", -1, 0, 30}, true},
		{"hour=-2,legion=web,unique=0 x", Cron{-1, -2, -1, -1, -1, "x", false, "web", -1, 0, 0}, true},
		{"minute=60 x", Cron{}, false},
		{"day=0 x", Cron{}, false},
		{"harakiri=-1 x", Cron{}, false},
		{"harakiri=soon x", Cron{}, false},
		{"color=red x", Cron{}, false},
		{"minute x", Cron{}, false},
		{"minute=1", Cron{}, false}, // no command
		{"", Cron{}, false},
	}
	for _, c := range cases {
		got, err := ParseCron2(c.in)
		if !c.ok {
			if !errors.Is(err, errCronSyntax) {
				t.Errorf("ParseCron2(%q) = %+v, %v; want invalid cron syntax", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseCron2(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestCronsFromConfigOrder(t *testing.T) {
	got, errs := CronsFromConfig([][2]string{
		{"cron2", "minute=1 a"}, {"unique-cron", "-1 -1 -1 -1 -1 b"}, {"socket", ":1"},
		{"cron", "-1 -1 -1 -1 -1 c"}, {"cron", "bad"},
	})
	if len(errs) != 1 || len(got) != 3 {
		t.Fatalf("got %+v, errors %v", got, errs)
	}
	if got[0].Command != "a" || got[1].Command != "b" || !got[1].Unique || got[2].Command != "c" || got[2].Unique {
		t.Errorf("order or kinds lost: %+v", got)
	}
}

func FuzzParseCron2(f *testing.F) {
	for _, s := range []string{"minute=-1,unique=1 x", "minute=5,hour=2,harakiri=3 y z", "=,= a", "minute=-60 b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCron2(s)
		if err != nil {
			return
		}
		for i, v := range []int{c.Minute, c.Hour, c.Day, c.Month, c.Week} {
			r := cronRanges[i]
			if v < -r.hi || (v >= 0 && (v < r.lo || v > r.hi)) {
				t.Fatalf("ParseCron2(%q) accepted %s %d", s, r.name, v)
			}
		}
		if c.Command == "" || c.Harakiri < 0 || c.Pid != -1 {
			t.Fatalf("ParseCron2(%q) = %+v", s, c)
		}
	})
}
