package static

// Source is the part of the configuration OptionsFrom reads
// (*config.Config satisfies it; aliases resolve there).
type Source interface {
	List(name string) []string
	Bool(name string) bool
	Int(name string) int
}

// OptionsFrom collects the static-file options of a configuration.
// Options is plain data, so it can travel to the workers in the boot
// bundle; Log is set by the worker.
func OptionsFrom(c Source) Options {
	return Options{
		Maps:         c.List("static-map"),
		Maps2:        c.List("static-map2"),
		Check:        c.List("check-static"),
		CheckDocroot: c.Bool("check-static-docroot"),
		Index:        c.List("static-index"),
		SkipExt:      c.List("static-skip-ext"),
		Safe:         c.List("static-safe"),
		Expires:      c.List("static-expires"),
		ExpiresURI:   c.List("static-expires-uri"),
		ExpiresPath:  c.List("static-expires-path-info"),
		ExpiresType:  c.List("static-expires-type"),
		Gzip:         c.List("static-gzip"),
		GzipAll:      c.Bool("static-gzip-all"),
		GzipExt:      c.List("static-gzip-ext"),
		GzipDir:      c.List("static-gzip-dir"),
		MimeFiles:    c.List("mimefile"),
		HonourRange:  c.Bool("honour-range"),
		Offload:      c.Int("offload-threads") > 0,
		AddHeaders:   c.List("add-header"),
		DelHeaders:   c.List("del-header"),
	}
}
