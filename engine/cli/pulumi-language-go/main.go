// Command pulumi-language-go is a small Go language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 module. A program is compiled with `go build` in its
// directory (or taken prebuilt from the `binary` runtime option) and run with the PULUMI_*
// environment variables the Go SDK reads at start-up. Not supported: debugging, plugins
// (policy packs, components), code generation, Pack, Link, About and the package list that
// GetRequiredPackages would read from go.mod (the engine loads plugins on demand instead).
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

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
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
	// flag (-binary=...). The same options arrive in every request's ProgramInfo, so drop them.
	if err := flag.CommandLine.Parse(knownFlags(os.Args[1:])); err != nil {
		cmdutil.Exit(err)
	}
	if *showVersion {
		fmt.Println(hostVersion())
		return
	}
	// InitLogging reads -v and --logtostderr back from the flag set.
	logging.InitLogging(false, 0, flag.Lookup("logflow").Value.String() == "true")
	cmdutil.InitTracing("pulumi-language-go", "pulumi-language-go", *tracing)

	// Stop serving on Ctrl-C, or once the engine is gone (the healthcheck then calls stop).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopServing := make(chan bool)
	go func() { <-ctx.Done(); close(stopServing) }()

	h := &host{stop: stop}
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

	stop   context.CancelFunc // stops serving
	engine atomic.Value       // the engine's address, a string

	// Cancelled by the Cancel RPC; every child process is bound to it.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func (h *host) engineAddr() string { addr, _ := h.engine.Load().(string); return addr }

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
	config, secretKeys := []byte("{}"), []byte("[]")
	if req.GetConfig() != nil {
		config, _ = json.Marshal(req.GetConfig()) // a map of strings always marshals
	}
	if len(req.GetConfigSecretKeys()) > 0 {
		secretKeys, _ = json.Marshal(req.GetConfigSecretKeys())
	}
	env := os.Environ()
	for _, kv := range [][2]string{
		{pulumi.EnvOrganization, req.GetOrganization()},
		{pulumi.EnvProject, req.GetProject()},
		{pulumi.EnvPulumiRootDirectory, req.GetInfo().GetRootDirectory()},
		{pulumi.EnvStack, req.GetStack()},
		{pulumi.EnvConfig, string(config)},
		{pulumi.EnvConfigSecretKeys, string(secretKeys)},
		{pulumi.EnvDryRun, strconv.FormatBool(req.GetDryRun())},
		{pulumi.EnvParallel, strconv.Itoa(int(req.GetParallel()))},
		{pulumi.EnvMonitor, req.GetMonitorAddress()},
		{pulumi.EnvEngine, h.engineAddr()},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}

	cmd, done := h.command(ctx, program, req.GetArgs()...)
	defer done()
	cmd.Dir, cmd.Env = req.GetPwd(), env
	// The engine collects our own stdout and stderr, so the program writes straight to them.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logging.V(5).Infof("launching Go program: %v", cmd.Args)

	err = cmd.Run()
	resp := &pulumirpc.RunResponse{}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case !errors.As(err, &exitErr):
		resp.Error = "problem executing program (could not start it): " + err.Error()
	case exitErr.ExitCode() == constant.ExitStatusLoggedError: // the SDK already told the user
		resp.Bail = true
	case exitErr.ExitCode() > 0:
		resp.Error = fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())
	default: // killed by a signal
		resp.Error = "program exited unexpectedly: " + exitErr.Error()
	}
	return resp, nil
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
	cmd, done := h.command(ctx, gobin, "build", "-buildvcs=false", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
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
	conn, err := grpc.NewClient(h.engineAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
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
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	cmd, done := h.command(server.Context(), gobin, "mod", "tidy")
	defer done()
	cmd.Dir, cmd.Env = req.GetInfo().GetProgramDirectory(), os.Environ()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("`go mod tidy` failed to install dependencies: %w", err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// command prepares a child process that ends with the request or on Cancel, by SIGINT first so
// the program can tell the engine it is stopping, and a kill 5s later.
func (h *host) command(reqCtx context.Context, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithCancel(h.cancelCtx)
	stopAfter := context.AfterFunc(reqCtx, cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd, func() { stopAfter(); cancel() }
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}
