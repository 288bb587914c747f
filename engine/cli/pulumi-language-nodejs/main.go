// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine.
//
// Pulumi's own host is a nested Go module that the module proxy does not serve, so this one is
// written against the served sdk/v3 module. A program runs through the `cmd/run` script of the
// @pulumi/pulumi package installed in the program's node_modules; that script compiles
// TypeScript itself (ts-node, from the program's dependencies). Dependencies install with the
// project's package manager (npm unless a lock file or the `packagemanager` option says
// otherwise). Not supported: bun as the runtime, debugging, plugins (policy packs, components),
// program generation, Pack, About and the package list that GetRequiredPackages would read
// from node_modules (the engine loads plugins on demand instead).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/leadterra/pulumi-leadterra/engine/cli/internal/langhost"
)

// The module the program is run through, resolved from the program's directory so that the
// program's own copy of @pulumi/pulumi runs it. PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it.
const runModule = "@pulumi/pulumi/cmd/run"

func main() {
	langhost.Main("pulumi-language-nodejs", func(base *langhost.Base) (pulumirpc.LanguageRuntimeServer, error) {
		return &host{Base: base}, nil
	})
}

// host serves a Node.js program; Base answers the RPCs every host answers alike.
type host struct {
	*langhost.Base
}

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
		{"engine", h.EngineAddr()},
		{"organization", req.GetOrganization()},
		{"project", req.GetProject()},
		{"root-directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", dir}, // cmd/run changes into it, so the entry point resolves from there
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"tracing", h.Tracing()},
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
	config, secretKeys := langhost.ConfigEnv(req)
	env := append(os.Environ(), "PULUMI_CONFIG="+config, "PULUMI_CONFIG_SECRET_KEYS="+secretKeys)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	cmd, done := h.Command(ctx, node, args...)
	defer done()
	cmd.Env = env
	// Node may switch the files behind its stdout and stderr to non-blocking mode, which would
	// then make our own writes to them fail. Wrapping the writers makes exec give node pipes of
	// its own and copy from them, so our descriptors stay as they are.
	cmd.Stdout, cmd.Stderr = struct{ io.Writer }{os.Stdout}, struct{ io.Writer }{os.Stderr}
	logging.V(5).Infof("launching Node.js program: %v", cmd.Args)

	return langhost.RunResult(cmd.Run(), "could not run node"), nil
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
	return langhost.Install(req, server, func(stdout, stderr io.Writer) error {
		dir := req.GetInfo().GetProgramDirectory()
		if root, err := npm.FindWorkspaceRoot(dir); err == nil {
			fmt.Fprintf(stdout, "Detected workspace root at %s\n", root)
			dir = root
		} else if !errors.Is(err, npm.ErrNotInWorkspace) {
			return fmt.Errorf("failure while trying to find workspace root: %w", err)
		}
		ctx, done := h.Bound(server.Context())
		defer done()
		if name, err := npm.Install(ctx, opts.packagemanager, dir, false, stdout, stderr); err != nil {
			return fmt.Errorf("%s install failed: %w", name, err)
		}
		return nil
	})
}
