package main

// Loading a chart directory the way Helm's loader does: Chart.yaml becomes .Chart,
// values.yaml the defaults of .Values, templates/ the templates, and every other file that
// .helmignore does not exclude is reachable through .Files.

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type chartFile struct {
	Name string // relative to the chart, with "/" separators
	Data []byte
}

type loadedChart struct {
	Metadata  map[string]interface{} // Chart.yaml as written (apiVersion, name, version, ...)
	Values    map[string]interface{}
	Templates []chartFile
	Files     Files
}

// ignoreRule is one line of .helmignore: a shell glob, matched against the base name when it
// has no "/" and against the whole relative path otherwise; "dir/" matches directories only and
// "!" negates.
type ignoreRule struct {
	pattern string
	negate  bool
	dirOnly bool
}

func readIgnore(dir string) ([]ignoreRule, error) {
	// Helm always skips dotfiles inside templates/.
	rules := []ignoreRule{{pattern: "templates/.?*"}}
	data, err := os.ReadFile(filepath.Join(dir, ".helmignore"))
	if os.IsNotExist(err) {
		return rules, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimSuffix(line, "/")
		}
		r.pattern = strings.TrimPrefix(line, "/")
		if _, err := path.Match(r.pattern, ""); err != nil {
			return nil, fmt.Errorf(".helmignore: bad pattern %q: %v", line, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func ignored(rules []ignoreRule, rel string, isDir bool) bool {
	out := false
	for _, r := range rules {
		if r.dirOnly && !isDir {
			continue
		}
		subject := rel
		if !strings.Contains(r.pattern, "/") {
			subject = path.Base(rel)
		}
		if ok, _ := path.Match(r.pattern, subject); ok {
			out = !r.negate
		}
	}
	return out
}

func loadChart(dir string) (*loadedChart, error) {
	rules, err := readIgnore(dir)
	if err != nil {
		return nil, err
	}
	c := &loadedChart{Files: Files{}}
	var names []string
	contents := map[string][]byte{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			// Helm follows links; so do we, one level (a linked file or directory of files).
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			isDir = st.IsDir()
		}
		if ignored(rules, rel, isDir) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if isDir {
			if d.Type()&fs.ModeSymlink != 0 {
				return walkLinkedDir(p, rel, rules, &names, contents)
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		names = append(names, rel)
		contents[rel] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		data := contents[name]
		switch {
		case name == "Chart.yaml":
			if err := yaml.Unmarshal(data, &c.Metadata); err != nil {
				return nil, fmt.Errorf("Chart.yaml: %v", err)
			}
		case name == "values.yaml":
			if err := yaml.Unmarshal(data, &c.Values); err != nil {
				return nil, fmt.Errorf("values.yaml: %v", err)
			}
		case name == "values.schema.json", name == "Chart.lock":
		case strings.HasPrefix(name, "templates/"):
			c.Templates = append(c.Templates, chartFile{Name: name, Data: data})
		case strings.HasPrefix(name, "charts/"):
			return nil, fmt.Errorf("%s: subcharts are not supported by this renderer", name)
		default:
			c.Files[name] = data
		}
	}
	if c.Metadata == nil {
		return nil, fmt.Errorf("%s: no Chart.yaml", dir)
	}
	if c.Values == nil {
		c.Values = map[string]interface{}{}
	}
	return c, nil
}

func walkLinkedDir(p, rel string, rules []ignoreRule, names *[]string, contents map[string][]byte) error {
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		child := rel + "/" + e.Name()
		if e.IsDir() || ignored(rules, child, false) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(p, e.Name()))
		if err != nil {
			return err
		}
		*names = append(*names, child)
		contents[child] = data
	}
	return nil
}

// chartObject is .Chart: Chart.yaml's fields with Helm's capitalised names.
func chartObject(meta map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range meta {
		if k == "apiVersion" {
			out["APIVersion"] = v
			continue
		}
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return out
}

// coalesce merges override into base as Helm merges value files: maps merge key by key,
// anything else replaces, and null removes the key.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, baseIsMap := out[k].(map[string]interface{})
		om, overIsMap := v.(map[string]interface{})
		if baseIsMap && overIsMap {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func readValuesFile(p string) (map[string]interface{}, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return m, nil
}
