package langhost

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"os/exec"
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestKnownFlagsDropsOnlyUnknownValuedFlags(t *testing.T) {
	if flag.Lookup("tracing-test") == nil { // -count=N runs this again
		flag.String("tracing-test", "", "")
	}
	got := knownFlags([]string{"-virtualenv=venv", "--tracing-test=x", "-logflow", "-root=/p", "127.0.0.1:1"})
	want := []string{"--tracing-test=x", "-logflow", "127.0.0.1:1"}
	if !slices.Equal(got, want) {
		t.Fatalf("knownFlags = %q, want %q", got, want)
	}
}

func TestConfigEnv(t *testing.T) {
	if c, s := ConfigEnv(&pulumirpc.RunRequest{}); c != "{}" || s != "[]" {
		t.Fatalf("empty request: %s %s", c, s)
	}
	c, s := ConfigEnv(&pulumirpc.RunRequest{Config: map[string]string{"p:k": "v"}, ConfigSecretKeys: []string{"p:k"}})
	if c != `{"p:k":"v"}` || s != `["p:k"]` {
		t.Fatalf("config: %s %s", c, s)
	}
}

func TestRunResult(t *testing.T) {
	exit := func(code string) error { return exec.Command("sh", "-c", "exit "+code).Run() }
	for _, tc := range []struct {
		err  error
		want *pulumirpc.RunResponse
	}{
		{nil, &pulumirpc.RunResponse{}},
		{exit("32"), &pulumirpc.RunResponse{Bail: true}},
		{exit("3"), &pulumirpc.RunResponse{Error: "program exited with non-zero exit code: 3"}},
		{errors.New("no such file"), &pulumirpc.RunResponse{Error: "problem executing program (could not start it): no such file"}},
	} {
		got := RunResult(tc.err, "could not start it")
		if got.GetError() != tc.want.GetError() || got.GetBail() != tc.want.GetBail() {
			t.Errorf("RunResult(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func newBase() *Base {
	b := &Base{}
	b.cancelCtx, b.cancelAll = context.WithCancel(context.Background())
	return b
}

// The child hears SIGINT first, so it can stop cleanly: here it exits 7 on it. It says "ready"
// once the trap is set, so the test does not signal it before.
const trapsInterrupt = `trap 'exit 7' INT; echo ready; sleep 10 & wait`

// start starts cmd and waits for its "ready".
func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
}

func TestCancelInterruptsChildren(t *testing.T) {
	b := newBase()
	cmd, done := b.Command(context.Background(), "sh", "-c", trapsInterrupt)
	defer done()
	start(t, cmd)
	if _, err := b.Cancel(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 {
		t.Fatalf("child ended with %v, want exit status 7 from its SIGINT trap", err)
	}
	// Cancel is for good: what would start afterwards does not.
	later, doneLater := b.Command(context.Background(), "true")
	defer doneLater()
	if err := later.Run(); err == nil {
		t.Fatal("a command started after Cancel ran")
	}
}

func TestRequestEndInterruptsChild(t *testing.T) {
	b := newBase()
	reqCtx, endRequest := context.WithCancel(context.Background())
	cmd, done := b.Command(reqCtx, "sh", "-c", trapsInterrupt)
	defer done()
	start(t, cmd)
	endRequest()
	var exitErr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 {
		t.Fatalf("child ended with %v, want exit status 7 from its SIGINT trap", err)
	}
}
