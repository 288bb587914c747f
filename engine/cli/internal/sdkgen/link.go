package sdkgen

import (
	"context"
	"errors"
	"fmt"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Linked is one package whose SDK `pulumi package add` generated into the project: its schema,
// with the language's own options read (package names, module paths), and where the SDK is,
// relative to the project's root (sdks/<name>).
type Linked struct {
	Pkg  *schema.Package
	Path string
}

// LinkedPackages loads the schema of each package of a Link request from the engine's schema
// loader (which `pulumi package add` serves the package it just generated from) and reads the
// options of language with importer. A host then adds each SDK to the project's own dependency
// file (package.json, requirements.txt, go.mod), as the engine's next InstallDependencies installs
// it.
func LinkedPackages(ctx context.Context, req *pulumirpc.LinkRequest, language string, importer schema.Language,
) ([]Linked, error) {
	client, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	linked := make([]Linked, 0, len(req.GetPackages()))
	for _, dep := range req.GetPackages() {
		if dep.GetPackage().GetName() == "pulumi" {
			// Pulumi's conformance tests link a local build of the language SDK itself.
			return nil, errors.New("this language host cannot link a local Pulumi SDK")
		}
		descriptor, err := Descriptor(dep.GetPackage())
		if err != nil {
			return nil, err
		}
		ref, err := schema.LoadPackageReferenceV2(ctx, loader, descriptor)
		if err != nil {
			return nil, fmt.Errorf("loading the schema of %s: %w", descriptor.PackageName(), err)
		}
		pkg, err := ref.Definition()
		if err != nil {
			return nil, err
		}
		if err := pkg.ImportLanguages(map[string]schema.Language{language: importer}); err != nil {
			return nil, err
		}
		linked = append(linked, Linked{Pkg: pkg, Path: dep.GetPath()})
	}
	return linked, nil
}

// Descriptor is the loader's description of a package the engine names: name, version, where
// its plugin downloads from, and its parameterization, if any.
func Descriptor(dep *pulumirpc.PackageDependency) (*schema.PackageDescriptor, error) {
	descriptor := &schema.PackageDescriptor{Name: dep.GetName(), DownloadURL: dep.GetServer()}
	if dep.GetVersion() != "" {
		version, err := semver.ParseTolerant(dep.GetVersion())
		if err != nil {
			return nil, fmt.Errorf("package %s has an invalid version %q: %w", dep.GetName(), dep.GetVersion(), err)
		}
		descriptor.Version = &version
	}
	if param := dep.GetParameterization(); param != nil {
		descriptor.Parameterization = &schema.ParameterizationDescriptor{Name: param.GetName(), Value: param.GetValue()}
		if param.GetVersion() != "" {
			version, err := semver.ParseTolerant(param.GetVersion())
			if err != nil {
				return nil, fmt.Errorf("package %s has an invalid version %q: %w", param.GetName(), param.GetVersion(), err)
			}
			descriptor.Parameterization.Version = version
		}
	}
	return descriptor, nil
}
