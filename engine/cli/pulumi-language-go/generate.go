package main

import (
	"context"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// GeneratePackage writes a Go SDK for a schema: what `pulumi package gen-sdk` asks for.
func (h *host) GeneratePackage(_ context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	return sdkgen.Serve(req, func(pkg *schema.Package, _ map[string][]byte, _ schema.ReferenceLoader) (map[string][]byte, error) {
		return gogen.GeneratePackage("pulumi-language-go", pkg, req.GetLocalDependencies())
	})
}
