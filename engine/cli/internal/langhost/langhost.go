// Package langhost is what our language hosts share: the command line and start-up the engine
// expects of a plugin (flags, logging, tracing, health check, serving and printing the port), and
// a Base each host embeds for the RPCs that do not depend on the language (Handshake,
// GetPluginInfo, Cancel, a GetRequiredPackages that names none) and for child processes that
// stop with the request or on Cancel.
package langhost

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
	"strings"
	"sync/atomic"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Main runs the language host called name (e.g. "pulumi-language-go") until the engine is gone
// or it gets Ctrl-C. newHost makes the host around base, once the flags are parsed and logging
// is set up; an error from it ends the process with that message.
func Main(name string, newHost func(base *Base) (pulumirpc.LanguageRuntimeServer, error)) {
	tracing := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible endpoint")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	// The engine passes --logtostderr, -v=N and --logflow to plugins. glog (linked in through a
	// dependency) defines some of these already; define whichever are missing so parsing succeeds.
	for _, f := range []string{"logtostderr", "logflow"} {
		if flag.Lookup(f) == nil {
			flag.Bool(f, false, "logging option passed by the engine")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "log verbosity passed by the engine")
	}
	// Engines built on older Pulumi packages (the YAML host's, loading a Python plugin's schema,
	// for one) start language hosts with each runtime option as a flag (-virtualenv=...,
	// -binary=..., -typescript=...). The same options arrive in every request's ProgramInfo, so
	// those flags are dropped here.
	if err := flag.CommandLine.Parse(knownFlags(os.Args[1:])); err != nil {
		cmdutil.Exit(err)
	}
	if *showVersion {
		fmt.Println(hostVersion())
		return
	}
	// InitLogging reads -v and --logtostderr back from the flag set.
	logging.InitLogging(false, 0, flag.Lookup("logflow").Value.String() == "true")
	cmdutil.InitTracing(name, name, *tracing)

	base := &Base{tracing: *tracing}
	base.cancelCtx, base.cancelAll = context.WithCancel(context.Background())
	h, err := newHost(base)
	if err != nil {
		cmdutil.Exit(err)
	}

	// Stop serving on Ctrl-C, or once the engine is gone (the healthcheck then calls stop).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopServing := make(chan bool)
	go func() { <-ctx.Done(); close(stopServing) }()

	base.stop = stop
	if args := flag.Args(); len(args) > 0 {
		base.engine.Store(args[0])
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

// Base is the part of a host that is the same for every language. Embed it by pointer (Main
// makes it); the host's own methods override Base's and the unimplemented RPCs it carries.
type Base struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	tracing string
	stop    context.CancelFunc // stops serving
	engine  atomic.Value       // the engine's address, a string

	// Cancelled by the Cancel RPC; every child process is bound to it.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

// EngineAddr is the engine's address, from the command line or the Handshake; "" before either.
func (b *Base) EngineAddr() string { addr, _ := b.engine.Load().(string); return addr }

// Tracing is the -tracing endpoint, "" when tracing is off.
func (b *Base) Tracing() string { return b.tracing }

// Handshake records the engine's address and stops serving once the engine is gone.
func (b *Base) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	b.engine.Store(req.GetEngineAddress())
	if err := rpcutil.Healthcheck(context.Background(), req.GetEngineAddress(), 5*time.Minute, b.stop); err != nil {
		return nil, fmt.Errorf("could not start health check against the engine: %w", err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports this build's version, the same one -version prints.
func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: hostVersion()}, nil
}

// GetRequiredPackages names no packages: the engine then loads each provider when the program
// first uses it, which is all a program needs. A host that must prepare something first (the
// Python one makes the virtualenv) has its own.
func (b *Base) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Cancel stops every child process the host runs, and any it would start later: the engine
// sends it when the user interrupts the update.
func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	b.cancelAll()
	return &emptypb.Empty{}, nil
}

// Bound is a context that ends with the request or on Cancel. Call the CancelFunc when done.
func (b *Base) Bound(reqCtx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(b.cancelCtx)
	stopAfter := context.AfterFunc(reqCtx, cancel)
	return ctx, func() { stopAfter(); cancel() }
}

// Command prepares the child process name args, bound as CommandWith binds it.
func (b *Base) Command(reqCtx context.Context, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	cmd, done, _ := b.CommandWith(reqCtx, func(ctx context.Context) (*exec.Cmd, error) {
		return exec.CommandContext(ctx, name, args...), nil
	})
	return cmd, done
}

// CommandWith prepares the child process that newCmd makes (it must make it with the context it
// is given, as exec.CommandContext does), bound to the request and to Cancel. When either ends,
// the child gets SIGINT first, so the program can tell the engine it is stopping (and Python can
// shut down cleanly), and is killed 5s later. Call the CancelFunc when the child is done.
func (b *Base) CommandWith(reqCtx context.Context, newCmd func(context.Context) (*exec.Cmd, error),
) (*exec.Cmd, context.CancelFunc, error) {
	ctx, done := b.Bound(reqCtx)
	cmd, err := newCmd(ctx)
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
	return cmd, done, nil
}

// ConfigEnv is the stack's config and its secret keys as JSON, for the PULUMI_CONFIG and
// PULUMI_CONFIG_SECRET_KEYS variables the SDKs read: "{}" and "[]" when there are none.
func ConfigEnv(req *pulumirpc.RunRequest) (config, secretKeys string) {
	configJSON, secretKeysJSON := []byte("{}"), []byte("[]")
	if req.GetConfig() != nil {
		configJSON, _ = json.Marshal(req.GetConfig()) // a map of strings always marshals
	}
	if len(req.GetConfigSecretKeys()) > 0 {
		secretKeysJSON, _ = json.Marshal(req.GetConfigSecretKeys())
	}
	return string(configJSON), string(secretKeysJSON)
}

// RunResult turns how a program's process ended into the Run response. notStarted says what
// could not be run (e.g. "could not start it"). Every SDK (Go's, Python's exec shim, Node's
// cmd/run) exits with constant.ExitStatusLoggedError (32) once it has shown the user the error
// itself, and the engine should then bail without adding one.
func RunResult(err error, notStarted string) *pulumirpc.RunResponse {
	resp := &pulumirpc.RunResponse{}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case !errors.As(err, &exitErr):
		resp.Error = "problem executing program (" + notStarted + "): " + err.Error()
	case exitErr.ExitCode() == constant.ExitStatusLoggedError:
		resp.Bail = true
	case exitErr.ExitCode() > 0:
		resp.Error = fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())
	default: // killed by a signal
		resp.Error = "program exited unexpectedly: " + exitErr.Error()
	}
	return resp
}

// Install runs one InstallDependencies: the engine's output streams, the messages every host
// prints around the work, and the streams closed (and their error reported) at the end.
func Install(req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
	install func(stdout, stderr io.Writer) error,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	if err := install(stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}
