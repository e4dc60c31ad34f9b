package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// corpusTemplates are rendered by another tool (Jinja2, ERB, buildout,
// django-admin) before uWSGI reads them; see testdata/corpus/README.md.
var corpusTemplates = map[string]bool{
	"openstack-ansible-role-uwsgi__uwsgi.ini.j2":         true,
	"zulip__uwsgi.ini.template.erb":                      true,
	"plone-buildout.coredev__uwsgi.ini":                  true,
	"20tab-django-uwsgi-template__remote-production.ini": true,
	// Loaded through the production layout in TestCorpus20tab.
	"20tab-django-uwsgi-template__remote-static.ini": true,
	"20tab-django-uwsgi-template__remote-global.ini": true,
	"20tab-django-uwsgi-template__static.ini":        true,
}

// shellVar is the ${NAME} / ${NAME:-default} syntax SearXNG's installer
// fills in before uWSGI sees the file.
var shellVar = regexp.MustCompile(`\$\{([A-Z_]+)(:-([^}]*))?\}`)

// TestCorpus loads every real-world config of the corpus (TOP-3, CF-40,
// OP-300): none may fail, whatever options it uses.
func TestCorpus(t *testing.T) {
	src, err := filepath.Abs("testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=/home/app", "PORT=8080", "BIND_ADDRESS=127.0.0.1:8080", "UWSGI_WORKERS=2",
		"UWSGI_THREADS=4", "REDIS_IDLE_TIMEOUT=60", "CELERY_NICE_LEVEL=5",
		"CELERY_MAX_WORKERS=4", "CELERY_MIN_WORKERS=1", "PATH=/usr/bin:/bin",
	}
	n := 0
	for _, f := range files {
		name := f.Name()
		if name == "README.md" || corpusTemplates[name] {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			body, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "searxng__apps-") {
				body = []byte(shellVar.ReplaceAllStringFunc(string(body), func(m string) string {
					sub := shellVar.FindStringSubmatch(m)
					if sub[2] != "" {
						return sub[3]
					}
					return "/srv/" + strings.ToLower(sub[1])
				}))
			}
			// Loaders are chosen by extension; give the renamed files theirs.
			target := name
			switch {
			case strings.HasSuffix(name, ".ini-socket"):
				target = strings.TrimSuffix(name, "-socket")
			}
			if err := os.WriteFile(filepath.Join(dir, target), body, 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load([]string{"uwsgi", target}, env, nil)
			if err != nil {
				t.Fatalf("Load(%s): %v", name, err)
			}
			if len(c.Entries()) == 0 {
				t.Errorf("Load(%s): no entries", name)
			}
		})
	}
	if n < 20 {
		t.Errorf("only %d corpus files tested", n)
	}
}

// TestCorpus20tab lays out the 20tab Django template as its README says
// (production.ini including remote/global.ini and remote/static.ini, which
// includes ../static.ini) with {{project_name}} rendered, and loads it.
func TestCorpus20tab(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata/corpus", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), "{{project_name}}", "proj")
	}
	root := writeFiles(t, map[string]string{
		"vassals/production.ini":               read("20tab-django-uwsgi-template__remote-production.ini"),
		"www/proj/uwsgiconf/remote/global.ini": read("20tab-django-uwsgi-template__remote-global.ini"),
		"www/proj/uwsgiconf/remote/static.ini": read("20tab-django-uwsgi-template__remote-static.ini"),
		"www/proj/uwsgiconf/static.ini":        read("20tab-django-uwsgi-template__static.ini"),
		"www/proj/.env":                        "DJANGO_SETTINGS_MODULE=proj.settings\nSECRET=x\n",
	})
	t.Chdir(root)
	c, err := Load([]string{"uwsgi", "vassals/production.ini"}, []string{"HOME=/home/app"}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.Env(); len(got) < 2 {
		t.Errorf("env from for-readline = %q, want the .env lines", got)
	}
	if got := c.List("static-map"); len(got) == 0 || strings.Contains(got[0], "%(") {
		t.Errorf("static-map = %q, want placeholders resolved", got)
	}
}
