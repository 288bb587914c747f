package sdkgen

import (
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestDescriptorReadsWhatTheEngineSends(t *testing.T) {
	d, err := Descriptor(&pulumirpc.PackageDependency{
		Name: "leadterra", Version: "0.1.0", Server: "github://api.github.com/leadterra/pulumi-leadterra",
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "leadterra" || d.Version == nil || d.Version.String() != "0.1.0" || d.Parameterization != nil {
		t.Fatalf("unexpected descriptor %+v", d)
	}
	if d.DownloadURL != "github://api.github.com/leadterra/pulumi-leadterra" {
		t.Fatalf("download URL %q", d.DownloadURL)
	}
}

func TestDescriptorWithoutVersionOrWithParameterization(t *testing.T) {
	d, err := Descriptor(&pulumirpc.PackageDependency{Name: "leadterra"})
	if err != nil || d.Version != nil {
		t.Fatalf("no version should stay unset: %+v %v", d, err)
	}
	d, err = Descriptor(&pulumirpc.PackageDependency{
		Name: "terraform-provider", Version: "v1.2.3",
		Parameterization: &pulumirpc.PackageParameterization{Name: "leadterra", Version: "2.0.0", Value: []byte("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.PackageName() != "leadterra" || d.Parameterization.Version.String() != "2.0.0" || d.Version.String() != "1.2.3" {
		t.Fatalf("unexpected descriptor %+v", d)
	}
}

func TestDescriptorRefusesAnInvalidVersion(t *testing.T) {
	if _, err := Descriptor(&pulumirpc.PackageDependency{Name: "leadterra", Version: "latest"}); err == nil {
		t.Fatal("an invalid version was accepted")
	}
	param := &pulumirpc.PackageParameterization{Name: "leadterra", Version: "nope"}
	if _, err := Descriptor(&pulumirpc.PackageDependency{Name: "base", Parameterization: param}); err == nil {
		t.Fatal("an invalid parameterized version was accepted")
	}
}
