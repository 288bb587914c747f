package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/mod/modfile"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// Link points the program's go.mod at each SDK `pulumi package add` generated (a replace
// directive to ./sdks/<name>); `go mod tidy` (InstallDependencies) then requires whatever the
// program imports.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	linked, err := sdkgen.LinkedPackages(ctx, req, "go", gogen.Importer)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(req.GetInfo().GetProgramDirectory(), "go.mod")
	stat, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("the program has no go.mod: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	gomod, err := modfile.Parse(path, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var imports strings.Builder
	for _, l := range linked {
		// `pulumi package add` always generates a module of its own (a packable SDK).
		l.Pkg.SupportPack = true
		module, importPath, err := gogen.ModuleAndImportPath(l.Pkg)
		if err != nil {
			return nil, err
		}
		// A replace directive's local path must start with ./ (go.dev/ref/mod#go-mod-file-replace).
		local := "./" + filepath.ToSlash(strings.TrimPrefix(l.Path, "./"))
		if err := gomod.AddReplace(module, "", local, ""); err != nil {
			return nil, fmt.Errorf("adding a replace directive for %s: %w", module, err)
		}
		fmt.Fprintf(&imports, "    %q\n", importPath)
	}
	if data, err = gomod.Format(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, data, stat.Mode().Perm()); err != nil {
		return nil, err
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your Go code with:\n\n  import (\n" + imports.String() + "  )\n",
	}, nil
}
