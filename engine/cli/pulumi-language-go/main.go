// Command pulumi-language-go is a small Go language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 module. A program is compiled with `go build` in its
// directory (or taken prebuilt from the `binary` runtime option) and run with the PULUMI_*
// environment variables the Go SDK reads at start-up. Not supported: debugging, plugins
// (policy packs, components), program generation, Pack, About and the package list that
// GetRequiredPackages would read from go.mod (the engine loads plugins on demand instead).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/langhost"
)

func main() {
	langhost.Main("pulumi-language-go", func(base *langhost.Base) (pulumirpc.LanguageRuntimeServer, error) {
		return &host{Base: base}, nil
	})
}

// host serves a Go program; Base answers the RPCs every host answers alike.
type host struct {
	*langhost.Base
}

// goOptions are the runtime options of Pulumi.yaml this host reads: `binary` names a program
// built beforehand, `buildTarget` where to keep the one we build (else a temporary file).
type goOptions struct{ binary, buildTarget string }

func parseOptions(info *pulumirpc.ProgramInfo) (goOptions, error) {
	var opts goOptions
	raw := info.GetOptions().AsMap()
	for key, dst := range map[string]*string{"binary": &opts.binary, "buildTarget": &opts.buildTarget} {
		if v, given := raw[key]; given {
			str, ok := v.(string)
			if !ok {
				return opts, fmt.Errorf("%s option must be a string", key)
			}
			*dst = str
		}
	}
	if opts.binary != "" && opts.buildTarget != "" {
		return opts, errors.New("binary and buildTarget cannot both be specified")
	}
	return opts, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "this Go language host does not support debugging"}, nil
	}
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	dir := req.GetInfo().GetProgramDirectory()

	var program string
	if opts.binary != "" {
		// A relative name is the program directory's file if there is one, else one on PATH.
		program = opts.binary
		if local := filepath.Join(dir, program); !filepath.IsAbs(program) && fileExists(local) {
			program = local
		} else if program, err = exec.LookPath(program); err != nil {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("unable to find the %q binary: %v", opts.binary, err)}, nil
		}
	} else {
		if program, err = h.build(ctx, dir, opts.buildTarget); err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		if opts.buildTarget == "" {
			defer os.Remove(program)
		}
	}

	// The Go SDK reads everything about the run from these variables (pulumi.RunWithContext).
	config, secretKeys := langhost.ConfigEnv(req)
	env := os.Environ()
	for _, kv := range [][2]string{
		{pulumi.EnvOrganization, req.GetOrganization()},
		{pulumi.EnvProject, req.GetProject()},
		{pulumi.EnvPulumiRootDirectory, req.GetInfo().GetRootDirectory()},
		{pulumi.EnvStack, req.GetStack()},
		{pulumi.EnvConfig, config},
		{pulumi.EnvConfigSecretKeys, secretKeys},
		{pulumi.EnvDryRun, strconv.FormatBool(req.GetDryRun())},
		{pulumi.EnvParallel, strconv.Itoa(int(req.GetParallel()))},
		{pulumi.EnvMonitor, req.GetMonitorAddress()},
		{pulumi.EnvEngine, h.EngineAddr()},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}

	cmd, done := h.Command(ctx, program, req.GetArgs()...)
	defer done()
	cmd.Dir, cmd.Env = req.GetPwd(), env
	// The engine collects our own stdout and stderr, so the program writes straight to them.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logging.V(5).Infof("launching Go program: %v", cmd.Args)

	return langhost.RunResult(cmd.Run(), "could not start it"), nil
}

// build compiles the program in dir to out (a new temporary file when out is empty) and
// returns the binary's path. Compiler output goes to our stderr, which the engine shows.
func (h *host) build(ctx context.Context, dir, out string) (string, error) {
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(matches) == 0 {
		return "", fmt.Errorf("no .go files in %s to build", dir)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("unable to find the go command on PATH: %w", err)
	}
	if out == "" {
		f, err := os.CreateTemp("", "pulumi-go.*")
		if err != nil {
			return "", fmt.Errorf("unable to create a temporary file for the program: %w", err)
		}
		out = f.Name()
		_ = f.Close()
	} else if !filepath.IsAbs(out) {
		out = filepath.Join(dir, out)
	}
	// A first build may download modules for minutes; say so, the engine shows it as progress.
	h.log(ctx, "Compiling the program ...")
	// -buildvcs=false: the program's folder need not be a clean (or any) VCS checkout.
	cmd, done := h.Command(ctx, gobin, "build", "-buildvcs=false", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	defer done()
	cmd.Dir, cmd.Env = dir, os.Environ()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(out)
		return "", fmt.Errorf("error in compiling Go: unable to run `go build`: %w", err)
	}
	if info, err := os.Stat(out); err != nil || info.Mode()&0o111 == 0 {
		return "", errors.New("go build made no executable; does the program have a main package?")
	}
	h.log(ctx, "Finished compiling")
	return out, nil
}

// log sends an ephemeral info message to the engine; losing one only loses a progress line.
func (h *host) log(ctx context.Context, msg string) {
	conn, err := grpc.NewClient(h.EngineAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return
	}
	defer conn.Close()
	_, err = pulumirpc.NewEngineClient(conn).Log(ctx, &pulumirpc.LogRequest{
		Severity: pulumirpc.LogSeverity_INFO, Message: msg, Ephemeral: true,
	})
	if err != nil {
		logging.V(6).Infof("could not log %q to the engine: %v", msg, err)
	}
}

// InstallDependencies runs `go mod tidy`, as Pulumi's host does: unlike `go mod download` it
// also records go.sum entries, without which a fresh project does not build.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("unable to find the go command on PATH: %w", err)
	}
	return langhost.Install(req, server, func(stdout, stderr io.Writer) error {
		cmd, done := h.Command(server.Context(), gobin, "mod", "tidy")
		defer done()
		cmd.Dir, cmd.Env = req.GetInfo().GetProgramDirectory(), os.Environ()
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("`go mod tidy` failed to install dependencies: %w", err)
		}
		return nil
	})
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}
