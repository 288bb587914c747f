// Command pulumi-language-python is a small Python language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 and pkg/v3 modules. Programs run through the
// pulumi-language-python-exec shim shipped in sdk/v3; dynamic providers, policy packs and source
// plugins run with the project's Python toolchain (pip, poetry or uv). Not supported: debugging,
// typecheckers, Pack, Template and GenerateProject.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	hclsyntax "github.com/pulumi/pulumi/pkg/v3/codegen/hcl2/syntax"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/langhost"
)

const execName = "pulumi-language-python-exec"

func main() {
	langhost.Main("pulumi-language-python", func(base *langhost.Base) (pulumirpc.LanguageRuntimeServer, error) {
		// Programs run through the exec shim, which the engine's release ships beside this host.
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("could not determine current executable: %w", err)
		}
		executor := filepath.Join(filepath.Dir(self), execName)
		if _, err := os.Stat(executor); err != nil {
			return nil, fmt.Errorf("missing executor %s, which must be installed next to %s: %w", executor, self, err)
		}
		return &host{Base: base, executor: executor}, nil
	})
}

// host serves a Python program or plugin; Base answers the RPCs every host answers alike.
type host struct {
	*langhost.Base

	executor string
}

// resolve reads the runtime options (virtualenv, toolchain) and picks the Python toolchain.
func resolve(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw, tc := info.GetOptions().AsMap(), ""
	for key, dst := range map[string]*string{"virtualenv": &opts.Virtualenv, "toolchain": &tc} {
		if v, given := raw[key]; given {
			str, ok := v.(string)
			if !ok {
				return opts, nil, fmt.Errorf("%s option must be a string", key)
			}
			*dst = str
		}
	}
	switch tc {
	case "":
		opts.Toolchain = toolchain.Auto
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return opts, nil, fmt.Errorf("unsupported toolchain option: %s", tc)
	}
	// "typechecker" is accepted and ignored. Plugins never run in the ambient interpreter, so a
	// pip-style plugin without a virtualenv option gets "venv".
	if isPlugin && opts.Virtualenv == "" && (opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) {
		opts.Virtualenv = "venv"
	}
	t, err := toolchain.ResolveToolchain(opts)
	return opts, t, err
}

// GetRequiredPackages only makes sure the virtualenv exists; the engine then loads plugins on demand.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	_, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	// Our stdout and stderr reach the user as info messages, so progress shows while a venv is made.
	if err := tc.EnsureVenv(ctx, req.GetInfo().GetProgramDirectory(), false, true, os.Stdout, os.Stderr); err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "this Python language host does not support debugging"}, nil
	}
	_, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}

	args := []string{h.executor}
	for _, kv := range [][2]string{
		{"monitor", req.GetMonitorAddress()},
		{"engine", h.EngineAddr()},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", strconv.FormatBool(req.GetDryRun())},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"tracing", h.Tracing()},
		{"organization", req.GetOrganization()},
	} {
		if kv[1] != "" {
			args = append(args, "--"+kv[0], kv[1])
		}
	}
	args = append(append(args, req.GetInfo().GetEntryPoint()), req.GetArgs()...)

	config, secretKeys := langhost.ConfigEnv(req)

	cmd, done, err := h.command(ctx, tc, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+config, "PULUMI_CONFIG_SECRET_KEYS="+secretKeys)
	// The engine collects our own stdout and stderr, so the program writes straight to them.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logging.V(5).Infof("launching Python program: %v", cmd.Args)

	err = cmd.Run()
	_, _ = os.Stdout.Sync(), os.Stderr.Sync() // a crashing Python may leave output unflushed
	return langhost.RunResult(err, "could not run language executor"), nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	_, tc, err := resolve(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	return langhost.Install(req, server, func(stdout, stderr io.Writer) error {
		return tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
			req.GetUseLanguageVersionTools(), true, stdout, stderr)
	})
}

// RunPlugin runs policy packs (kind "analyzer") and Python plugins such as source providers.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetAttachDebugger() {
		return errors.New("this Python language host does not support debugging plugins")
	}
	ctx := server.Context()
	dir := req.GetInfo().GetProgramDirectory()
	isPolicy := req.GetKind() == string(apitype.AnalyzerPlugin)
	_, tc, err := resolve(req.GetInfo(), !isPolicy)
	if err != nil {
		return err
	}

	// Policy packs take their directory last and, as they always have, run from inside it.
	args, cwd := append([]string{dir}, req.GetArgs()...), req.GetPwd()
	if isPolicy {
		args = append(append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...), dir)
		cwd = dir
	}
	cmd, done, err := h.command(ctx, tc, args...)
	if err != nil {
		return err
	}
	defer done()
	cmd.Dir = cwd

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	// The policy SDK learns the stack from env vars, so a proxy first answers the engine's
	// ConfigureStack itself, then forwards every other call to the pack once it has started.
	var proxy *sdk.PolicyProxy
	if isPolicy {
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		if cfg != nil {
			vars := map[string]string{"PULUMI_ORGANIZATION": cfg.GetOrganization(), "PULUMI_PROJECT": cfg.GetProject(),
				"PULUMI_STACK": cfg.GetStack(), "PULUMI_DRY_RUN": strconv.FormatBool(cfg.GetDryRun())}
			if cfg.GetConfig() != nil {
				b, _ := json.Marshal(cfg.GetConfig()) // a map of strings always marshals
				vars["PULUMI_CONFIG"] = string(b)
			}
			for k, v := range vars {
				if v != "" {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
			}
		}
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("problem executing plugin program: %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // Attach waits for the process too
	} else {
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	} else if err != nil {
		return err
	}
	return closer.Close()
}

// GenerateProgram turns PCL into Python; `pulumi import` uses it to print the code to paste.
func (h *host) GenerateProgram(_ context.Context, req *pulumirpc.GenerateProgramRequest,
) (*pulumirpc.GenerateProgramResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()

	parser := hclsyntax.NewParser()
	for name, text := range req.GetSource() {
		if err := parser.ParseFile(strings.NewReader(text), name); err != nil {
			return nil, err
		}
	}
	if parser.Diagnostics.HasErrors() {
		return &pulumirpc.GenerateProgramResponse{
			Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(parser.Diagnostics),
		}, nil
	}
	opts := []pcl.BindOption{pcl.PreferOutputVersionedInvokes}
	if !req.GetStrict() {
		opts = append(opts, pcl.NonStrictBindOptions()...)
	}
	program, diags, err := pcl.BindProgram(parser.Files, schema.NewCachedLoader(loader), opts...)
	if err != nil {
		return nil, err
	}
	rpcDiags := plugin.HclDiagnosticsToRPCDiagnostics(diags)
	if diags.HasErrors() || program == nil {
		return &pulumirpc.GenerateProgramResponse{Diagnostics: rpcDiags}, nil
	}
	files, genDiags, err := pygen.GenerateProgram(program)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GenerateProgramResponse{
		Source:      files,
		Diagnostics: append(rpcDiags, plugin.HclDiagnosticsToRPCDiagnostics(genDiags)...),
	}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata: map[string]string{
			"toolchain":        toolchain.Name(opts.Toolchain),
			"toolchainVersion": info.ToolchainVersion.String(),
		},
	}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	_, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get python dependencies: %w", err)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// command prepares python under the toolchain, with the toolchain's (virtualenv-activated)
// environment or else ours, bound to the request and to Cancel (SIGINT first, so Python can shut
// down cleanly).
func (h *host) command(reqCtx context.Context, tc toolchain.Toolchain, args ...string,
) (*exec.Cmd, context.CancelFunc, error) {
	cmd, done, err := h.CommandWith(reqCtx, func(ctx context.Context) (*exec.Cmd, error) {
		return tc.Command(ctx, args...)
	})
	if err != nil {
		return nil, nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	return cmd, done, nil
}
