package stats

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The configured parts of the optional sections (ST-9, ST-15): what the
// master knows from the options alone. Live numbers (items, hits, tasks...)
// are added by the master from the scoreboard.

// Defaults uWSGI 2.0 prints for a cache that does not set them.
const (
	defaultCacheHash      = "djb33x"
	defaultCacheHashSize  = 65536
	defaultCacheKeySize   = 2048
	defaultCacheBlockSize = 65536
)

// CachesFromConfig lists the caches in the order the Python side creates
// them (and numbers their counters): the legacy `cache = N` first, named
// "default", then every cache2. An entry the Python side refuses (and so
// stops the instance) is left out with its error.
func CachesFromConfig(legacy []string, legacyBlocksize []string, cache2 []string) ([]Cache, []error) {
	var out []Cache
	var errs []error
	if n := len(legacy); n > 0 && legacy[n-1] != "" {
		c, err := legacyCache(legacy[n-1], last(legacyBlocksize))
		if err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, c)
		}
	}
	for _, text := range cache2 {
		c, err := ParseCache2(text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errs
}

func last(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func legacyCache(items, blocksize string) (Cache, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(items), 10, 64)
	if err != nil || n <= 0 {
		return Cache{}, fmt.Errorf("cache %q: items must be a positive number", items)
	}
	bs, err := cacheSize(blocksize, defaultCacheBlockSize)
	if err != nil {
		return Cache{}, fmt.Errorf("cache-blocksize %q: %w", blocksize, err)
	}
	return newCache("default", n, bs, defaultCacheKeySize), nil
}

// ParseCache2 reads a `cache2` value (`name=x,items=N,blocksize=S,...`)
// with the keys gosgi's cache uses; hash and hashsize are only shown.
func ParseCache2(text string) (Cache, error) {
	kv := map[string]string{}
	for _, part := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	name := kv["name"]
	if name == "" {
		return Cache{}, fmt.Errorf("cache2 %q: you have to specify a cache name", text)
	}
	itemsText := kv["items"]
	if itemsText == "" {
		itemsText = kv["maxitems"]
	}
	items, err := strconv.ParseInt(itemsText, 10, 64)
	if err != nil || items <= 0 {
		return Cache{}, fmt.Errorf("cache2 %q: items must be a positive number", text)
	}
	bs, err := cacheSize(kv["blocksize"], defaultCacheBlockSize)
	if err != nil {
		return Cache{}, fmt.Errorf("cache2 %q: blocksize: %w", text, err)
	}
	ks := int64(defaultCacheKeySize)
	if t := kv["keysize"]; t != "" {
		if ks, err = strconv.ParseInt(t, 10, 64); err != nil || ks <= 0 {
			return Cache{}, fmt.Errorf("cache2 %q: keysize must be a positive number", text)
		}
	}
	c := newCache(name, items, bs, ks)
	if h := kv["hash"]; h != "" {
		c.Hash = h
	}
	if t := kv["hashsize"]; t != "" {
		hs, err := strconv.ParseInt(t, 10, 64)
		if err != nil || hs <= 0 {
			return Cache{}, fmt.Errorf("cache2 %q: hashsize must be a positive number", text)
		}
		c.HashSize = hs
	}
	return c, nil
}

// newCache: gosgi's cache has one block per item, so blocks = max_items.
func newCache(name string, items, blocksize, keysize int64) Cache {
	return Cache{
		Name: name, Hash: defaultCacheHash, HashSize: defaultCacheHashSize,
		KeySize: keysize, MaxItems: items, Blocks: items, BlockSize: blocksize,
	}
}

// cacheSize reads a size with an optional K, M or G suffix (powers of 1024).
func cacheSize(text string, def int64) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(text))
	if t == "" {
		return def, nil
	}
	mult := int64(1)
	switch t[len(t)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	}
	if mult > 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size", text)
	}
	return n * mult, nil
}

// cronRanges are the bounds of the five time fields; -1 means any and -N
// every N (uWSGI's extension), down to -max.
var cronRanges = [5]struct {
	name   string
	lo, hi int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day", 1, 31}, {"month", 1, 12}, {"weekday", 0, 7}}

var errCronSyntax = errors.New("invalid cron syntax")

// ParseCron reads a `cron` value: five time fields and the command. Like
// the Python side that runs it, an entry out of range is refused.
func ParseCron(line string) (Cron, error) {
	rest := line
	var fields [5]int
	for i := range fields {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			return Cron{}, fmt.Errorf("cron %q: %w", line, errCronSyntax)
		}
		v, err := strconv.Atoi(rest[:end])
		r := cronRanges[i]
		if err != nil || v < -r.hi || (v >= 0 && (v < r.lo || v > r.hi)) {
			return Cron{}, fmt.Errorf("cron %q: %s %q out of range (%d..%d, -1 any, -N every N): %w",
				line, r.name, rest[:end], r.lo, r.hi, errCronSyntax)
		}
		fields[i] = v
		rest = rest[end:]
	}
	cmd := strings.TrimLeftFunc(rest, unicode.IsSpace)
	if cmd == "" {
		return Cron{}, fmt.Errorf("cron %q: no command: %w", line, errCronSyntax)
	}
	return Cron{
		Minute: fields[0], Hour: fields[1], Day: fields[2], Month: fields[3], Week: fields[4],
		Command: cmd, Pid: -1,
	}, nil
}

// ParseCron2 reads a `cron2` value: key=value pairs (minute, hour, day,
// month, week, unique, harakiri, legion; a missing time field is any),
// then the command after the first blank.
func ParseCron2(line string) (Cron, error) {
	c := Cron{Minute: -1, Hour: -1, Day: -1, Month: -1, Week: -1, Pid: -1}
	kv, cmd, _ := strings.Cut(strings.TrimLeftFunc(line, unicode.IsSpace), " ")
	c.Command = strings.TrimLeftFunc(cmd, unicode.IsSpace)
	if c.Command == "" {
		return Cron{}, fmt.Errorf("cron2 %q: no command: %w", line, errCronSyntax)
	}
	fields := map[string]*int{"minute": &c.Minute, "hour": &c.Hour, "day": &c.Day, "month": &c.Month, "week": &c.Week}
	for _, pair := range strings.Split(kv, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return Cron{}, fmt.Errorf("cron2 %q: %q is not key=value: %w", line, pair, errCronSyntax)
		}
		switch k {
		case "unique":
			c.Unique = v != "0" && v != ""
		case "legion":
			c.Legion = v
		case "harakiri":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return Cron{}, fmt.Errorf("cron2 %q: harakiri %q is not a number of seconds: %w", line, v, errCronSyntax)
			}
			c.Harakiri = n
		default:
			p, known := fields[k]
			if !known {
				return Cron{}, fmt.Errorf("cron2 %q: unknown key %q: %w", line, k, errCronSyntax)
			}
			i := slices.Index([]string{"minute", "hour", "day", "month", "week"}, k)
			n, err := strconv.Atoi(v)
			r := cronRanges[i]
			if err != nil || n < -r.hi || (n >= 0 && (n < r.lo || n > r.hi)) {
				return Cron{}, fmt.Errorf("cron2 %q: %s %q out of range (%d..%d, -1 any, -N every N): %w",
					line, k, v, r.lo, r.hi, errCronSyntax)
			}
			*p = n
		}
	}
	return c, nil
}

// CronOptions are the option names of command crons, in the order they
// count in the stats and the boot bundle.
var CronOptions = []string{"cron", "unique-cron", "cron2"}

// CronsFromConfig lists the command crons (cron, unique-cron, cron2
// entries, key first, value second) in config order, skipping the ones
// that do not parse (returned as errors).
func CronsFromConfig(entries [][2]string) ([]Cron, []error) {
	var out []Cron
	var errs []error
	for _, e := range entries {
		var c Cron
		var err error
		switch e[0] {
		case "cron", "unique-cron":
			c, err = ParseCron(e[1])
			c.Unique = e[0] == "unique-cron"
		case "cron2":
			c, err = ParseCron2(e[1])
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errs
}
