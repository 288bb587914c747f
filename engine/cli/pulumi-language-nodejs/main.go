// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 module. A program runs through the `cmd/run` script of the
// @pulumi/pulumi package installed in the program's node_modules; that script compiles
// TypeScript itself (ts-node, from the program's dependencies). Dependencies install with the
// project's package manager (npm unless a lock file or the `packagemanager` option says
// otherwise). Not supported: bun as the runtime, debugging, plugins (policy packs, components),
// code generation, Pack, Link, About and the package list that GetRequiredPackages would read
// from node_modules (the engine loads plugins on demand instead).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The module the program is run through, resolved from the program's directory so that the
	// program's own copy of @pulumi/pulumi runs it. PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it.
	runModule = "@pulumi/pulumi/cmd/run"
	// cmd/run exits with this code once it has shown the user a good error itself.
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
	// Engines built on older Pulumi packages start language hosts with each runtime option as a
	// flag (-typescript=...). The same options arrive in every request's ProgramInfo, so drop them.
	if err := flag.CommandLine.Parse(knownFlags(os.Args[1:])); err != nil {
		cmdutil.Exit(err)
	}
	if *showVersion {
		fmt.Println(hostVersion())
		return
	}
	// InitLogging reads -v and --logtostderr back from the flag set.
	logging.InitLogging(false, 0, flag.Lookup("logflow").Value.String() == "true")
	cmdutil.InitTracing("pulumi-language-nodejs", "pulumi-language-nodejs", *tracing)

	// Stop serving on Ctrl-C, or once the engine is gone (the healthcheck then calls stop).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopServing := make(chan bool)
	go func() { <-ctx.Done(); close(stopServing) }()

	h := &host{tracing: *tracing, stop: stop}
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

	tracing string
	stop    context.CancelFunc // stops serving
	engine  atomic.Value       // the engine's address, a string

	// Cancelled by the Cancel RPC; every child process is bound to it.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func (h *host) engineAddr() string { addr, _ := h.engine.Load().(string); return addr }

// nodeOptions are the runtime options of Pulumi.yaml this host reads.
type nodeOptions struct {
	typescript     bool   // let cmd/run compile TypeScript with ts-node (the default)
	tsconfig       string // the tsconfig.json cmd/run gives ts-node
	nodeargs       string // extra arguments for node, split at spaces
	packagemanager npm.PackageManagerType
}

func parseOptions(info *pulumirpc.ProgramInfo) (nodeOptions, error) {
	opts := nodeOptions{typescript: true, packagemanager: npm.AutoPackageManager}
	raw := info.GetOptions().AsMap()
	if v, given := raw["typescript"]; given {
		b, ok := v.(bool)
		if !ok {
			return opts, errors.New("typescript option must be a boolean")
		}
		opts.typescript = b
	}
	var pm string
	for key, dst := range map[string]*string{"tsconfig": &opts.tsconfig, "nodeargs": &opts.nodeargs, "packagemanager": &pm} {
		if v, given := raw[key]; given {
			str, ok := v.(string)
			if !ok {
				return opts, fmt.Errorf("%s option must be a string", key)
			}
			*dst = str
		}
	}
	switch pm := npm.PackageManagerType(pm); pm {
	case "":
	case npm.AutoPackageManager, npm.NpmPackageManager, npm.YarnPackageManager, npm.PnpmPackageManager, npm.BunPackageManager:
		opts.packagemanager = pm
	default:
		return opts, fmt.Errorf("packagemanager option must be one of auto, npm, yarn, pnpm or bun, got %q", pm)
	}
	return opts, nil
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

// GetRequiredPackages names no packages: the engine then loads each provider when the program
// first uses it, which is all a program needs.
func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "this Node.js language host does not support debugging"}, nil
	}
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	dir := req.GetInfo().GetProgramDirectory()
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on PATH: " + err.Error()}, nil
	}
	script, err := resolveModule(ctx, node, dir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	// Node options first, then cmd/run and the flags it parses (minimist), then the program.
	args := strings.Fields(opts.nodeargs)
	args = append(args, script)
	for _, kv := range [][2]string{
		{"monitor", req.GetMonitorAddress()},
		{"engine", h.engineAddr()},
		{"organization", req.GetOrganization()},
		{"project", req.GetProject()},
		{"root-directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", dir}, // cmd/run changes into it, so the entry point resolves from there
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"tracing", h.tracing},
	} {
		if kv[1] != "" {
			args = append(args, "--"+kv[0], kv[1])
		}
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(append(args, req.GetInfo().GetEntryPoint()), req.GetArgs()...)

	// The SDK reads config from the environment; keys may be "project:key" (it also accepts the
	// older "project:config:key" form, so no rewriting is needed).
	config, secretKeys := []byte("{}"), []byte("[]")
	if req.GetConfig() != nil {
		config, _ = json.Marshal(req.GetConfig()) // a map of strings always marshals
	}
	if len(req.GetConfigSecretKeys()) > 0 {
		secretKeys, _ = json.Marshal(req.GetConfigSecretKeys())
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	cmd, done := h.command(ctx, node, args...)
	defer done()
	cmd.Env = env
	// Node may switch the files behind its stdout and stderr to non-blocking mode, which would
	// then make our own writes to them fail. Wrapping the writers makes exec give node pipes of
	// its own and copy from them, so our descriptors stay as they are.
	cmd.Stdout, cmd.Stderr = struct{ io.Writer }{os.Stdout}, struct{ io.Writer }{os.Stderr}
	logging.V(5).Infof("launching Node.js program: %v", cmd.Args)

	err = cmd.Run()
	resp := &pulumirpc.RunResponse{}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case !errors.As(err, &exitErr):
		resp.Error = "problem executing program (could not run node): " + err.Error()
	case exitErr.ExitCode() == exitCodeAlreadyReported:
		resp.Bail = true
	case exitErr.ExitCode() > 0:
		resp.Error = fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())
	default: // killed by a signal
		resp.Error = "program exited unexpectedly: " + exitErr.Error()
	}
	return resp, nil
}

// resolveModule asks node where the run module is, from the program's directory, so that the
// lookup follows node's own rules (parent node_modules, workspaces, package exports).
func resolveModule(ctx context.Context, node, dir string) (string, error) {
	mod := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if mod == "" {
		mod = runModule
	}
	// One line, and the name passed as an argument rather than spliced into the script.
	script := `try { console.log(require.resolve(process.argv[1])) } catch (e) { ` +
		`console.error(e.code === "MODULE_NOT_FOUND" ? "It looks like the Pulumi SDK has not been installed. ` +
		`Have you run pulumi install?" : e.message); process.exit(1) }`
	cmd := exec.CommandContext(ctx, node, "-e", script, mod)
	cmd.Dir = dir
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return "", errors.New(strings.TrimSpace(string(exitErr.Stderr)))
	} else if err != nil {
		return "", fmt.Errorf("could not run node to find %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// InstallDependencies installs with the project's package manager, from the root of the npm,
// yarn or pnpm workspace the program is in if any, since that is where node_modules lives.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	dir := req.GetInfo().GetProgramDirectory()
	if root, err := npm.FindWorkspaceRoot(dir); err == nil {
		fmt.Fprintf(stdout, "Detected workspace root at %s\n", root)
		dir = root
	} else if !errors.Is(err, npm.ErrNotInWorkspace) {
		return fmt.Errorf("failure while trying to find workspace root: %w", err)
	}
	ctx, done := h.bound(server.Context())
	defer done()
	name, err := npm.Install(ctx, opts.packagemanager, dir, false, stdout, stderr)
	if err != nil {
		return fmt.Errorf("%s install failed: %w", name, err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// bound is a context that ends with the request or on Cancel.
func (h *host) bound(reqCtx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(h.cancelCtx)
	stopAfter := context.AfterFunc(reqCtx, cancel)
	return ctx, func() { stopAfter(); cancel() }
}

// command prepares a child process bound to the request and to Cancel. It is stopped by SIGINT
// first, so the program can tell the engine it is stopping, and killed 5s later.
func (h *host) command(reqCtx context.Context, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, done := h.bound(reqCtx)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd, done
}
