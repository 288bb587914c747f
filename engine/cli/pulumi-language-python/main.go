// Command pulumi-language-python is a small Python language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 and pkg/v3 modules. Programs run through the
// pulumi-language-python-exec shim shipped in sdk/v3; dynamic providers, policy packs and source
// plugins run with the project's Python toolchain (pip, poetry or uv). Not supported: debugging,
// typecheckers, Pack, Link, Template, GeneratePackage and GenerateProject.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	hclsyntax "github.com/pulumi/pulumi/pkg/v3/codegen/hcl2/syntax"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	execName = "pulumi-language-python-exec"
	// The exec shim exits with this code once it has shown the user a good error itself.
	exitCodeAlreadyReported = 32
)

func main() {
	tracing := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible endpoint")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	// The engine passes --logtostderr, -v=N and --logflow to plugins. glog (linked in through a
	// dependency) defines some of these already; define whichever are missing so parsing succeeds.
	for _, name := range []string{"logtostderr", "logflow"} {
		if flag.Lookup(name) == nil {
			flag.Bool(name, false, "logging option passed by the engine")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "log verbosity passed by the engine")
	}
	// Engines built on older Pulumi packages (the YAML host's, loading a Python plugin's schema)
	// start language hosts with each runtime option as a flag (-virtualenv=..., -root=...).
	// The same options arrive in every request's ProgramInfo, so those flags are dropped here.
	if err := flag.CommandLine.Parse(knownFlags(os.Args[1:])); err != nil {
		cmdutil.Exit(err)
	}
	if *showVersion {
		fmt.Println(hostVersion())
		return
	}
	// InitLogging reads -v and --logtostderr back from the flag set.
	logging.InitLogging(false, 0, flag.Lookup("logflow").Value.String() == "true")
	cmdutil.InitTracing("pulumi-language-python", "pulumi-language-python", *tracing)

	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not determine current executable: %w", err))
	}
	executor := filepath.Join(filepath.Dir(self), execName)
	if _, err := os.Stat(executor); err != nil {
		cmdutil.Exit(fmt.Errorf("missing executor %s, which must be installed next to %s: %w", executor, self, err))
	}

	// Stop serving on Ctrl-C, or once the engine is gone (the healthcheck then calls stop).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopServing := make(chan bool)
	go func() { <-ctx.Done(); close(stopServing) }()

	h := &host{executor: executor, tracing: *tracing, stop: stop}
	h.cancelCtx, h.cancelAll = context.WithCancel(context.Background())
	if args := flag.Args(); len(args) > 0 {
		h.engine.Store(args[0])
		if err := rpcutil.Healthcheck(ctx, args[0], 5*time.Minute, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check against the engine: %w", err))
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel:  stopServing,
		Init:    func(srv *grpc.Server) error { pulumirpc.RegisterLanguageRuntimeServer(srv, h); return nil },
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads our port from stdout
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC server stopped: %w", err))
	}
}

// knownFlags keeps the flags this host defines and the positional arguments, dropping any
// other -name=value flag.
func knownFlags(args []string) []string {
	kept := make([]string, 0, len(args))
	for _, arg := range args {
		name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && hasValue && flag.Lookup(name) == nil {
			continue
		}
		kept = append(kept, arg)
	}
	return kept
}

// hostVersion is the version linked in with -X, else the version of the sdk/v3 module we built with.
func hostVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && version.Version == "" {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/pulumi/pulumi/sdk/v3" {
				return dep.Version
			}
		}
	}
	return version.Version
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor string
	tracing  string
	stop     context.CancelFunc // stops serving
	engine   atomic.Value       // the engine's address, a string

	// Cancelled by the Cancel RPC; every child process is bound to it.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func (h *host) engineAddr() string { addr, _ := h.engine.Load().(string); return addr }

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

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engine.Store(req.GetEngineAddress())
	if err := rpcutil.Healthcheck(context.Background(), req.GetEngineAddress(), 5*time.Minute, h.stop); err != nil {
		return nil, fmt.Errorf("could not start health check against the engine: %w", err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: hostVersion()}, nil
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
		{"engine", h.engineAddr()},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", strconv.FormatBool(req.GetDryRun())},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"tracing", h.tracing},
		{"organization", req.GetOrganization()},
	} {
		if kv[1] != "" {
			args = append(args, "--"+kv[0], kv[1])
		}
	}
	args = append(append(args, req.GetInfo().GetEntryPoint()), req.GetArgs()...)

	config, secretKeys := []byte("{}"), []byte("[]")
	if req.GetConfig() != nil {
		config, _ = json.Marshal(req.GetConfig()) // a map of strings always marshals
	}
	if len(req.GetConfigSecretKeys()) > 0 {
		secretKeys, _ = json.Marshal(req.GetConfigSecretKeys())
	}

	cmd, done, err := h.command(ctx, tc, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	// The engine collects our own stdout and stderr, so the program writes straight to them.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logging.V(5).Infof("launching Python program: %v", cmd.Args)

	err = cmd.Run()
	_, _ = os.Stdout.Sync(), os.Stderr.Sync() // a crashing Python may leave output unflushed
	resp := &pulumirpc.RunResponse{}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case !errors.As(err, &exitErr):
		resp.Error = "problem executing program (could not run language executor): " + err.Error()
	case exitErr.ExitCode() == exitCodeAlreadyReported:
		resp.Bail = true
	case exitErr.ExitCode() > 0:
		resp.Error = fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())
	default: // killed by a signal
		resp.Error = "program exited unexpectedly: " + exitErr.Error()
	}
	return resp, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	_, tc, err := resolve(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	if err := tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
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

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// command prepares python under the toolchain, with the toolchain's (virtualenv-activated)
// environment or else ours. It ends with the request or on Cancel, by SIGINT first so Python can
// shut down cleanly, and a kill 5s later.
func (h *host) command(reqCtx context.Context, tc toolchain.Toolchain, args ...string,
) (*exec.Cmd, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(h.cancelCtx)
	stopAfter := context.AfterFunc(reqCtx, cancel)
	done := func() { stopAfter(); cancel() }
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		done()
		return nil, nil, err
	}
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	return cmd, done, nil
}
