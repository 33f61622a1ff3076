// chart-render renders a Helm chart the way `helm template` does, for tests on machines where
// Helm cannot be installed. It implements the part of Helm the chart relies on (see engine.go)
// and prints the manifests as `helm template` prints them: one document per object, each
// headed by "# Source: <chart>/templates/<file>".
//
//	chart-render --chart DIR [-f values.yaml]... [--name NAME] [--namespace NS]
//	             [--kube-version v1.30.0] [--api-versions group/version]... [--upgrade] [--notes]
//
// Exit status: 0 rendered, 1 a template or values error (on stderr), 2 usage.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/Masterminds/semver"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	chart       string
	valueFiles  listFlag
	name        string
	namespace   string
	kubeVersion string
	apiVersions listFlag
	upgrade     bool
	notes       bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("chart-render", flag.ContinueOnError)
	fs.StringVar(&o.chart, "chart", "", "chart directory")
	fs.Var(&o.valueFiles, "f", "values file (repeatable; later files win)")
	fs.StringVar(&o.name, "name", "release-name", "release name")
	fs.StringVar(&o.namespace, "namespace", "default", "release namespace")
	fs.StringVar(&o.kubeVersion, "kube-version", "v1.30.0", "Kubernetes version for .Capabilities")
	fs.Var(&o.apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	fs.BoolVar(&o.upgrade, "upgrade", false, "render as an upgrade (.Release.IsUpgrade)")
	fs.BoolVar(&o.notes, "notes", false, "also print NOTES.txt after the manifests")
	if err := fs.Parse(os.Args[1:]); err != nil || o.chart == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: chart-render --chart DIR [-f values.yaml]... [--name N] [--namespace NS] [--kube-version V] [--api-versions G/V]... [--upgrade] [--notes]")
		os.Exit(2)
	}
	out, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// The API versions every cluster of a supported version serves (Helm's default set, trimmed
// to what charts ask about).
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1",
	"coordination.k8s.io/v1", "apiextensions.k8s.io/v1", "storage.k8s.io/v1",
}

func capabilities(o options) (Capabilities, error) {
	v, err := semver.NewVersion(o.kubeVersion)
	if err != nil {
		return Capabilities{}, fmt.Errorf("--kube-version %q: %v", o.kubeVersion, err)
	}
	return Capabilities{
		KubeVersion: KubeVersion{
			Version:    "v" + v.String(),
			Major:      fmt.Sprint(v.Major()),
			Minor:      fmt.Sprint(v.Minor()),
			GitVersion: "v" + v.String(),
		},
		APIVersions: append(append(VersionSet{}, builtinAPIVersions...), o.apiVersions...),
	}, nil
}

func checkKubeVersion(meta map[string]interface{}, caps Capabilities) error {
	c, ok := meta["kubeVersion"].(string)
	if !ok || c == "" {
		return nil
	}
	constraint, err := semver.NewConstraint(c)
	if err != nil {
		return fmt.Errorf("Chart.yaml kubeVersion %q: %v", c, err)
	}
	v, _ := semver.NewVersion(caps.KubeVersion.Version)
	if !constraint.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c, caps.KubeVersion.Version)
	}
	return nil
}

func run(o options) (string, error) {
	c, err := loadChart(o.chart)
	if err != nil {
		return "", err
	}
	values := c.Values
	for _, f := range o.valueFiles {
		override, err := readValuesFile(f)
		if err != nil {
			return "", err
		}
		values = coalesce(values, override)
	}
	caps, err := capabilities(o)
	if err != nil {
		return "", err
	}
	if err := checkKubeVersion(c.Metadata, caps); err != nil {
		return "", err
	}
	chartName, _ := c.Metadata["name"].(string)
	if chartName == "" {
		return "", fmt.Errorf("Chart.yaml has no name")
	}
	e, err := newEngine(chartName, c.Templates)
	if err != nil {
		return "", err
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": o.name, "Namespace": o.namespace, "Service": "Helm",
			"IsInstall": !o.upgrade, "IsUpgrade": o.upgrade, "Revision": 1,
		},
		"Chart":        chartObject(c.Metadata),
		"Capabilities": caps,
		"Files":        c.Files,
	}
	files, notes, err := e.render(chartName, c.Templates, top)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range files {
		docs, err := splitManifests(f)
		if err != nil {
			return "", err
		}
		for _, d := range docs {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", f.Name, d)
		}
	}
	if o.notes {
		fmt.Fprintf(&b, "NOTES:\n%s", notes)
	}
	return b.String(), nil
}

var separator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// splitManifests cuts a rendered file into its documents, leaving out empty ones, and checks
// that each is a Kubernetes object (YAML with apiVersion and kind), as Helm does before sorting.
func splitManifests(f rendered) ([]string, error) {
	var out []string
	for i, d := range separator.Split(f.Content, -1) {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		var any map[string]interface{}
		if err := yaml.Unmarshal([]byte(d), &any); err != nil {
			return nil, fmt.Errorf("%s: document %d is not valid YAML: %v\n%s", f.Name, i, err, d)
		}
		if len(any) == 0 {
			continue // only comments
		}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil || head.APIVersion == "" || head.Kind == "" {
			return nil, fmt.Errorf("%s: document %d has no apiVersion or kind:\n%s", f.Name, i, d)
		}
		out = append(out, strings.TrimRight(d, " \n"))
	}
	return out, nil
}
