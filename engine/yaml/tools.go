//go:build tools

// Package tools pins the Pulumi YAML language host's main package so `go mod tidy` keeps its
// module graph, at the Pulumi versions pulumi-yaml itself was released against.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
