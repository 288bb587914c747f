package main

import (
	"context"

	nodegen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// GeneratePackage writes a TypeScript SDK for a schema: what `pulumi package gen-sdk` asks for.
func (h *host) GeneratePackage(_ context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	return sdkgen.Serve(req, func(pkg *schema.Package, extra map[string][]byte, loader schema.ReferenceLoader) (map[string][]byte, error) {
		return nodegen.GeneratePackage("pulumi-language-nodejs", pkg, extra, req.GetLocalDependencies(), req.GetLocal(), loader)
	})
}
