package main

import (
	"context"

	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/sdkgen"
)

// GeneratePackage writes a Python SDK for a schema: what `pulumi package gen-sdk` asks for.
func (h *host) GeneratePackage(_ context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	return sdkgen.Serve(req, func(pkg *schema.Package, extra map[string][]byte, loader schema.ReferenceLoader) (map[string][]byte, error) {
		return pygen.GeneratePackage("pulumi-language-python", pkg, extra, loader)
	})
}
