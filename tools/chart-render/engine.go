package main

// The subset of Helm's template engine the chart uses: every template parsed into one set (so
// define/include work across files), sprig's functions without env/expandenv, and Helm's own
// include, tpl, required, lookup, toYaml, fromYaml, fromYamlArray, toJson, fromJson and
// fromJsonArray, with Helm's missingkey=zero behaviour ("<no value>" printed as nothing).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

const recursionMax = 1000

// Files is .Files: the chart's non-template files by relative path.
type Files map[string][]byte

// Get returns a file's content, or "" when there is no such file.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content as bytes.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches pattern ("*" does not cross "/").
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// AsConfig renders the files as ConfigMap data: base name → content, in YAML.
func (f Files) AsConfig() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYaml(m)
}

// AsSecrets renders the files as Secret data: base name → base64 content, in YAML.
func (f Files) AsSecrets() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = base64.StdEncoding.EncodeToString(data)
	}
	return toYaml(m)
}

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has tells whether the cluster serves an API version ("group/version" or "group/version/Kind").
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

func toYaml(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYaml(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYamlArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJson(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJson(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJsonArray(s string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, fmt.Errorf("%s", msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, fmt.Errorf("%s", msg)
	}
	return v, nil
}

// engine holds the parsed template set.
type engine struct {
	root *template.Template
	tpls int
}

func (e *engine) funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the renderer's environment.
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYaml
	f["fromYaml"] = fromYaml
	f["fromYamlArray"] = fromYamlArray
	f["toJson"] = toJson
	f["fromJson"] = fromJson
	f["fromJsonArray"] = fromJsonArray
	f["required"] = required
	// Like `helm template`, there is no cluster to look anything up in.
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = e.include(func() *template.Template { return e.root })
	f["tpl"] = e.tpl
	return f
}

func (e *engine) include(set func() *template.Template) func(string, interface{}) (string, error) {
	depth := map[string]int{}
	return func(name string, data interface{}) (string, error) {
		if depth[name] > recursionMax {
			return "", fmt.Errorf("include %q: recursion deeper than %d", name, recursionMax)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var b strings.Builder
		if err := set().ExecuteTemplate(&b, name, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
}

// tpl renders a string as a template with the chart's defines available.
func (e *engine) tpl(text string, data interface{}) (string, error) {
	t, err := e.root.Clone()
	if err != nil {
		return "", err
	}
	e.tpls++
	name := fmt.Sprintf("tpl-%d", e.tpls)
	t.Funcs(template.FuncMap{"include": e.include(func() *template.Template { return t })})
	if _, err := t.New(name).Parse(text); err != nil {
		return "", fmt.Errorf("tpl: %v", err)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("tpl: %v", err)
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

func newEngine(chartName string, templates []chartFile) (*engine, error) {
	e := &engine{}
	e.root = template.New("root").Option("missingkey=zero")
	e.root.Funcs(e.funcMap())
	for _, t := range templates {
		name := chartName + "/" + t.Name
		if _, err := e.root.New(name).Parse(string(t.Data)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

type rendered struct {
	Name    string
	Content string
}

// render executes every template whose base name does not start with "_", in name order.
// NOTES.txt is rendered apart, as Helm does.
func (e *engine) render(chartName string, templates []chartFile, top map[string]interface{}) ([]rendered, string, error) {
	var out []rendered
	notes := ""
	names := make([]string, 0, len(templates))
	for _, t := range templates {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		name := chartName + "/" + n
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		var b strings.Builder
		if err := e.root.ExecuteTemplate(&b, name, vals); err != nil {
			return nil, "", err
		}
		text := strings.ReplaceAll(b.String(), "<no value>", "")
		if path.Base(n) == "NOTES.txt" {
			notes = text
			continue
		}
		out = append(out, rendered{Name: name, Content: text})
	}
	return out, notes, nil
}
