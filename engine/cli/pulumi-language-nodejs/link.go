package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/cgstrings"
	nodegen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// Link adds each SDK `pulumi package add` generated to the program's package.json as a file:
// dependency, with the project's package manager (npm pkg set, for npm); the engine then runs
// InstallDependencies, which installs and builds it.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	linked, err := sdkgen.LinkedPackages(ctx, req, "nodejs", nodegen.Importer)
	if err != nil {
		return nil, err
	}
	dir := req.GetInfo().GetProgramDirectory()
	pm, err := npm.ResolvePackageManager(opts.packagemanager, dir)
	if err != nil {
		return nil, err
	}
	var imports strings.Builder
	for _, l := range linked {
		name := nodePackageName(l.Pkg)
		if err := pm.Link(ctx, dir, name, l.Path); err != nil {
			return nil, fmt.Errorf("adding %s to package.json: %w", name, err)
		}
		fmt.Fprintf(&imports, "  import * as %s from %q;\n", cgstrings.Camel(l.Pkg.Name), name)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your TypeScript code with:\n\n" + imports.String(),
	}, nil
}

// nodePackageName is the npm name the SDK was generated with: the schema's, else Pulumi's default.
func nodePackageName(pkg *schema.Package) string {
	if info, ok := pkg.Language["nodejs"].(nodegen.NodePackageInfo); ok && info.PackageName != "" {
		return info.PackageName
	}
	if pkg.Namespace != "" {
		return "@" + pkg.Namespace + "/" + pkg.Name
	}
	return "@pulumi/" + pkg.Name
}
