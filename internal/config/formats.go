package config

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseINI reads uWSGI's ini dialect (CF-10..CF-14) and returns the
// entries of section in file order. found reports whether the section
// exists. gopkg.in/ini.v1 cannot be used here: it merges repeated keys and
// treats inline ";" and "#" as comments (see docs/compat.md).
func parseINI(text, section, name string) (entries []Entry, found bool) {
	current, inSection := "", false // lines before any [section] belong to none
	for n, line := range strings.Split(text, "\n") {
		line = strings.Trim(line, " \t\r")
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			// The name is everything after '[' minus the last character,
			// whatever it is (CF-12).
			current = ""
			if len(line) > 1 {
				current = line[1 : len(line)-1]
			}
			inSection = true
			if current == section {
				found = true
			}
			continue
		}
		if !inSection || current != section {
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		entries = append(entries, Entry{
			Key:    strings.Trim(key, " \t\r"),
			Value:  strings.Trim(value, " \t\r"),
			Source: fmt.Sprintf("%s:%d", name, n+1),
		})
	}
	return entries, found
}

// parseXML reads <uwsgi> (or <uwsgi id="section">): every child element is
// an option, an empty one meaning "1" (CF-50).
func parseXML(text, section, name string) ([]Entry, error) {
	d := xml.NewDecoder(strings.NewReader(text))
	var entries []Entry
	depth := 0     // element depth
	inBlock := -1  // depth of the selected <uwsgi>, -1 outside
	var key string // current option element
	var val []byte // its text
	var line int   // its line
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: invalid XML: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				// The root must be <uwsgi>, with the asked id if any.
				id := ""
				for _, a := range t.Attr {
					if a.Name.Local == "id" {
						id = a.Value
					}
				}
				if t.Name.Local != "uwsgi" {
					return nil, fmt.Errorf("%s: invalid XML: the root element must be <uwsgi>", name)
				}
				if section != "" && id != section {
					return nil, fmt.Errorf("%s: no <uwsgi id=%q> element", name, section)
				}
				inBlock = depth
				continue
			}
			if inBlock >= 0 && depth == inBlock+1 {
				key, val = t.Name.Local, nil
				line, _ = d.InputPos()
			}
		case xml.CharData:
			if inBlock >= 0 && depth == inBlock+1 {
				val = append(val, t...)
			}
		case xml.EndElement:
			if inBlock >= 0 && depth == inBlock+1 {
				v := string(val)
				if strings.TrimSpace(v) == "" {
					v = "1"
				}
				entries = append(entries, Entry{Key: key, Value: v, Source: fmt.Sprintf("%s:%d", name, line)})
			}
			if depth == inBlock {
				inBlock = -1
			}
			depth--
		}
	}
	return entries, nil
}

// parseJSON reads {"uwsgi": {...}} (or the section's key) keeping key
// order: arrays repeat the option, true is "1", false and null are "0",
// numbers keep their text (CF-52).
func parseJSON(text, section, name string) ([]Entry, error) {
	if section == "" {
		section = "uwsgi"
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	bad := func(err error) error { return fmt.Errorf("%s: invalid JSON: %w", name, err) }
	tok, err := d.Token()
	if err != nil {
		return nil, bad(err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: invalid JSON: the top level must be an object", name)
	}
	lineOf := func() int { return strings.Count(text[:d.InputOffset()], "\n") + 1 }
	var entries []Entry
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, bad(err)
		}
		top, _ := kt.(string)
		if top != section {
			var skip json.RawMessage
			if err := d.Decode(&skip); err != nil {
				return nil, bad(err)
			}
			continue
		}
		t, err := d.Token()
		if err != nil {
			return nil, bad(err)
		}
		if t != json.Delim('{') {
			return nil, fmt.Errorf("%s: invalid JSON: %q must be an object", name, section)
		}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, bad(err)
			}
			key, _ := kt.(string)
			line := lineOf()
			var raw json.RawMessage
			if err := d.Decode(&raw); err != nil {
				return nil, bad(err)
			}
			vals, err := jsonValues(raw)
			if err != nil {
				return nil, bad(err)
			}
			for _, v := range vals {
				entries = append(entries, Entry{Key: key, Value: v, Source: fmt.Sprintf("%s:%d", name, line)})
			}
		}
		if _, err := d.Token(); err != nil {
			return nil, bad(err)
		}
	}
	return entries, nil
}

// jsonValues turns one JSON value into option values; objects give none.
func jsonValues(raw json.RawMessage) ([]string, error) {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	scalar := func(t json.Token) (string, bool) {
		switch v := t.(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		case bool:
			if v {
				return "1", true
			}
			return "0", true
		case nil:
			return "0", true
		}
		return "", false
	}
	if s, ok := scalar(tok); ok {
		return []string{s}, nil
	}
	if tok != json.Delim('[') {
		return nil, nil // nested objects are ignored, as uWSGI does
	}
	var out []string
	for d.More() {
		var elem json.RawMessage
		if err := d.Decode(&elem); err != nil {
			return nil, err
		}
		sub := json.NewDecoder(strings.NewReader(string(elem)))
		sub.UseNumber()
		t, err := sub.Token()
		if err != nil {
			return nil, err
		}
		if s, ok := scalar(t); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseYAML reads the mapping under "uwsgi" (or the section): a sequence
// repeats the option, scalars keep their text ("true" stays "true") (CF-51).
func parseYAML(text, section, name string) ([]Entry, error) {
	if section == "" {
		section = "uwsgi"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: invalid YAML: the top level must be a mapping", name)
	}
	var entries []Entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != section || root.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := root.Content[i+1]
		for j := 0; j+1 < len(m.Content); j += 2 {
			k, v := m.Content[j], m.Content[j+1]
			src := name + ":" + strconv.Itoa(k.Line)
			switch v.Kind {
			case yaml.ScalarNode:
				val := v.Value
				if v.Tag == "!!null" && (val == "~" || val == "null") {
					val = ""
				}
				entries = append(entries, Entry{Key: k.Value, Value: val, Source: src})
			case yaml.SequenceNode:
				for _, it := range v.Content {
					if it.Kind == yaml.ScalarNode {
						entries = append(entries, Entry{Key: k.Value, Value: it.Value, Source: name + ":" + strconv.Itoa(it.Line)})
					}
				}
			}
		}
	}
	return entries, nil
}
