package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// NginxServerName is the server_name of the generated nginx config; the app
// sees it as SERVER_NAME (WP-14).
const NginxServerName = "example.test"

// StartNginx runs a real nginx in the foreground on a free loopback port,
// proxying everything with uwsgi_pass to upstream ("unix:/path" or
// "host:port") with Debian's /etc/nginx/uwsgi_params, and returns it with its
// listen address. All of nginx's files (pid, temp dirs, logs) live in a temp
// dir; its error log is the Server's log.
func StartNginx(t testing.TB, upstream string) (*Server, string) {
	t.Helper()
	RequireTools(t, Nginx)
	if _, err := os.Stat("/etc/nginx/uwsgi_params"); err != nil {
		t.Fatalf("/etc/nginx/uwsgi_params missing (%v)\n  install: %s", err, installHints[Nginx])
	}
	prefix := t.TempDir()
	addr := FreePort(t)
	user := ""
	if os.Geteuid() == 0 {
		// As root, nginx would switch its workers to nobody, who cannot reach
		// a socket inside a private temp dir.
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    client_max_body_size 8m;
    server {
        listen %[3]s;
        server_name %[4]s;
        root /var/www/html;
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass %[5]s;
        }
    }
}
`, user, prefix, addr, NginxServerName, upstream)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("write nginx.conf: %v", err)
	}
	errLog := filepath.Join(prefix, "error.log")
	s := Start(t, "nginx", Nginx, []string{"-p", prefix, "-e", errLog, "-c", confPath, "-g", "daemon off;"},
		StartOptions{Ready: "-"})
	s.LogPath = errLog
	s.WaitLog(t, `start worker process`, StartTimeout)
	return s, addr
}
