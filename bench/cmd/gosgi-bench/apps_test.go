package main

import (
	"strings"
	"testing"
)

func TestAppChecks(t *testing.T) {
	good := bigPattern()
	shifted := append([]byte{0}, good[:len(good)-1]...)
	flaskOK := `{"app":"bench","count":40,"total":1,"rows":[` + strings.TrimSuffix(strings.Repeat(`{"id":1},`, 40), ",") + `]}`
	tests := []struct {
		app     string
		body    string
		wantErr string
	}{
		{"hello", "Hello World\n", ""},
		{"hello", "Hello World", "want"},
		{"hello", "", "want"},
		{"sleep", "slept 50 ms\n", ""},
		{"flask", flaskOK, ""},
		{"flask", `{"app":"bench","count":40,"rows":[]}`, "rows=0"},
		{"flask", "<html>", "not the expected JSON"},
		{"get1m", string(good), ""},
		{"get1m", string(good[:1000]), "1000 bytes"},
		{"get1m", string(shifted), "at byte 1"},
	}
	for _, tt := range tests {
		err := apps[tt.app].check([]byte(tt.body))
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s check(%q...): %v", tt.app, clip([]byte(tt.body)), err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s check(%q...) = %v, want error containing %q", tt.app, clip([]byte(tt.body)), err, tt.wantErr)
		}
	}
}

func TestEchoPayloadDiffersFromGetBody(t *testing.T) {
	p := echoPayload()
	if len(p) != mib || firstDiff(p, bigPattern()) < 0 {
		t.Fatal("echo payload must be 1 MiB and differ from the GET body")
	}
	if firstDiff(p, echoPayload()) != -1 {
		t.Fatal("echo payload is not deterministic")
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{{"abc", "abc", -1}, {"abc", "abd", 2}, {"ab", "abc", 2}, {"", "", -1}} {
		if got := firstDiff([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("firstDiff(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// Every app the suite knows has a file and a check.
func TestAppsTable(t *testing.T) {
	for name, a := range apps {
		if a.file == "" || (a.check == nil && a.postBytes == 0) {
			t.Errorf("app %s: incomplete spec %+v", name, a)
		}
	}
}
