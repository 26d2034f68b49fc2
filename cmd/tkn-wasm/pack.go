package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"sigs.k8s.io/yaml"
)

// DefaultNamespace is where the controller looks for plugin ConfigMaps
// unless configured otherwise (config/).
const DefaultNamespace = "tekton-wasm"

func newPackCmd() *cobra.Command {
	var (
		namespace string
		embed     bool
		plugin    *pluginFlags
	)
	cmd := &cobra.Command{
		Use:   "pack MODULE.wasm (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [flags]",
		Short: "Print the ConfigMap that registers a plugin with the controller",
		Long: "Prints the ConfigMap that registers the plugin with the controller. The module is\n" +
			"compressed when it would not fit the 1 MiB ConfigMap limit otherwise; apply it\n" +
			"server-side, as a client-side apply of a large module fails on the annotation\n" +
			"it writes (docs/controller.md). A module that carries its manifest (pack --embed,\n" +
			"push) needs no flags.",
		Example: "  tkn-wasm pack wait.wasm --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait | kubectl apply --server-side -f -\n" +
			"  tkn-wasm pack demo.wasm --manifest plugin.yaml | kubectl apply --server-side -f -\n" +
			"  tkn-wasm pack demo.wasm --manifest plugin.yaml --embed > demo-configmap.yaml",
		RunE: func(cmd *cobra.Command, args []string) error {
			return pack(args, plugin, namespace, embed, cmd.OutOrStdout())
		},
	}
	plugin = newPluginFlags(cmd)
	cmd.Flags().StringVar(&namespace, "namespace", DefaultNamespace, "the controller's namespace")
	cmd.Flags().BoolVar(&embed, "embed", false, "embed the manifest in the module (custom section "+manifest.SectionName+"), so that the module says what it is")
	return cmd
}

func pack(positional []string, plugin *pluginFlags, namespace string, embed bool, stdout io.Writer) error {
	if len(positional) != 1 {
		return usagef("pack takes one module file; run \"tkn-wasm pack --help\"")
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return err
	}
	if embed {
		if module, err = manifest.Embed(p, module); err != nil {
			return usagef("%v", err)
		}
		p.SHA256 = "" // it pinned the module without its manifest
	}
	cm, err := manifest.ToConfigMap(p, module, namespace)
	if err != nil {
		return usagef("%v", err)
	}
	b, err := yaml.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
