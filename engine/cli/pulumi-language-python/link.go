package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// Link adds each SDK `pulumi package add` generated to the program's dependencies with the
// project's toolchain (a path line in requirements.txt for pip; pyproject.toml for poetry and
// uv); the engine then runs InstallDependencies, which installs it into the virtualenv.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	opts, _, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	linked, err := sdkgen.LinkedPackages(ctx, req, "python", pygen.Importer)
	if err != nil {
		return nil, err
	}
	packages := map[string]string{}
	var imports strings.Builder
	for _, l := range linked {
		name := pygen.PyPack(l.Pkg.Namespace, l.Pkg.Name)
		if info, ok := l.Pkg.Language["python"].(pygen.PackageInfo); ok && info.PackageName != "" {
			name = info.PackageName
		}
		packages[name] = l.Path
		fmt.Fprintf(&imports, "  import %s\n", name)
	}
	// A project of poetry or uv that has not been installed yet still has only its
	// requirements.txt: link there, as pip does, and the first install converts it.
	if opts.Toolchain != toolchain.Pip {
		dir := req.GetInfo().GetProgramDirectory()
		if _, err := os.Stat(filepath.Join(dir, "pyproject.toml")); os.IsNotExist(err) {
			if _, err := os.Stat(filepath.Join(dir, "requirements.txt")); err == nil {
				opts.Toolchain = toolchain.Pip
			}
		}
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.LinkPackages(ctx, packages); err != nil {
		return nil, fmt.Errorf("linking packages: %w", err)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your Python code with:\n\n" + imports.String(),
	}, nil
}
