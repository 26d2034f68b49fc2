package kubecap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// Rule is one entry of capabilities.kubernetes, in the form of an RBAC
// PolicyRule: a request is inside it when its API group, resource and
// verb are each in the rule's lists ("*" matches any; "" is the core
// group). A manifest's rules are an upper bound on what its plugin may
// ask; the run's ServiceAccount's RBAC decides inside it.
type Rule struct {
	APIGroups []string `json:"apiGroups"`
	Resources []string `json:"resources"`
	Verbs     []string `json:"verbs"`
}

// MaxRules caps capabilities.kubernetes: each request is matched against
// every rule, and no real plugin needs more.
const MaxRules = 64

// verbs are the verbs a rule may name, besides "*".
var verbs = []string{hostabi.KubernetesGet, hostabi.KubernetesList, hostabi.KubernetesCreate, hostabi.KubernetesPatch, hostabi.KubernetesDelete}

// ValidateRules checks rules as a manifest holds them; the error names
// the rule (by index) and what is wrong with it.
func ValidateRules(rules []Rule) error {
	if len(rules) > MaxRules {
		return fmt.Errorf("%d rules; at most %d", len(rules), MaxRules)
	}
	for i, r := range rules {
		switch {
		case len(r.APIGroups) == 0:
			return fmt.Errorf("rule %d: apiGroups is empty: name the API groups (\"\" for the core group, \"*\" for any)", i)
		case len(r.Resources) == 0:
			return fmt.Errorf("rule %d: resources is empty: name the resources (plural, lower-case: \"pipelineruns\"; \"*\" for any)", i)
		case len(r.Verbs) == 0:
			return fmt.Errorf("rule %d: verbs is empty: name some of %s, or \"*\"", i, strings.Join(verbs, ", "))
		}
		for _, g := range r.APIGroups {
			if g != "*" && (strings.ContainsAny(g, "/ ") || strings.ToLower(g) != g) {
				return fmt.Errorf("rule %d: apiGroups entry %q is not an API group (a lower-case DNS name such as \"tekton.dev\", \"\" or \"*\")", i, g)
			}
		}
		for _, res := range r.Resources {
			if res == "" || res != "*" && (strings.ContainsAny(res, "/ .") || strings.ToLower(res) != res) {
				return fmt.Errorf("rule %d: resources entry %q is not a resource (plural, lower-case, no subresource: \"pipelineruns\", or \"*\")", i, res)
			}
		}
		for _, v := range r.Verbs {
			if v != "*" && !slices.Contains(verbs, v) {
				return fmt.Errorf("rule %d: verbs entry %q is not a verb the host serves (%s, or \"*\")", i, v, strings.Join(verbs, ", "))
			}
		}
	}
	return nil
}

// allows reports whether some rule grants verb on resource in group.
func allows(rules []Rule, group, resource, verb string) bool {
	for _, r := range rules {
		if matches(r.APIGroups, group) && matches(r.Resources, resource) && matches(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// allowsGroup reports whether some rule grants verb on some resource of
// group: the check made before the resource is known.
func allowsGroup(rules []Rule, group, verb string) bool {
	for _, r := range rules {
		if matches(r.APIGroups, group) && matches(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func matches(list []string, s string) bool {
	return slices.Contains(list, s) || slices.Contains(list, "*")
}
