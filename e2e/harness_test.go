package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// jaegerPkg is the Jaeger command pinned by go.mod's tool directive.
const jaegerPkg = "github.com/jaegertracing/jaeger/cmd/jaeger"

var (
	repoRoot  string                // the repository, whose go.work builds the examples
	examples  = map[string]string{} // example name → binary built by TestMain
	pgservice string                // pgservice's binary, built by TestMain
	findingsv string                // findingsvc's binary, built by TestMain
	jaegerBin string
	shared    *jaeger // the Jaeger most tests export to
	workDir   string  // logs and binaries of this run
	uiAssets  string  // the jaeger-ui build the Jaegers serve; "" for the placeholder page
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips
	}
	var err error
	if repoRoot, err = filepath.Abs(".."); err != nil {
		return fail(err)
	}
	if workDir, err = os.MkdirTemp("", "otelguard-e2e-"); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(workDir)

	var note string
	if uiAssets, note, err = findUI(); err != nil {
		return fail(err)
	}
	fmt.Fprintln(os.Stderr, "e2e:", note)
	if jaegerBin, err = buildJaeger(); err != nil {
		return fail(err)
	}
	for _, name := range []string{"service", "quickstart"} {
		if _, err := os.Stat(filepath.Join(repoRoot, "examples", name)); err != nil {
			continue // the tests that need it skip
		}
		bin := filepath.Join(workDir, name)
		// The race detector watches the examples too: a race makes them
		// exit 66, and the test that ran them fail.
		if err := goCmd(repoRoot, "build", "-race", "-trimpath", "-o", bin, "./examples/"+name); err != nil {
			return fail(err)
		}
		examples[name] = bin
	}
	// pgservice, the PostgreSQL test's service, is a module of its own
	// (its doc says why): built as it builds, from its own go.mod.
	pgservice = filepath.Join(workDir, "pgservice")
	if err := goCmd(filepath.Join(repoRoot, "e2e", "pgservice"), "build", "-race", "-trimpath", "-o", pgservice, "."); err != nil {
		return fail(err)
	}
	// findingsvc, the findings and tail-sampling tests' program, is a
	// module of its own for the same reason.
	findingsv = filepath.Join(workDir, "findingsvc")
	if err := goCmd(filepath.Join(repoRoot, "e2e", "findingsvc"), "build", "-race", "-trimpath", "-o", findingsv, "."); err != nil {
		return fail(err)
	}
	if shared, err = startJaeger("shared"); err != nil {
		return fail(err)
	}
	code := m.Run()
	shared.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: Jaeger's log, last lines:\n%s\n", shared.logTail())
	}
	return code
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e:", err)
	return 1
}

// inCI tells whether the environment says it is CI (CI=true, as GitHub
// Actions, GitLab CI and most others set it; .ci/run sets it too). There,
// a test whose component .ci/run provides (PostgreSQL, the jaeger-ui
// build, Chromium) fails without it instead of skipping.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// needJaeger skips a test in -short mode.
func needJaeger(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: needs Jaeger; skipped in -short mode")
	}
}

// goCmd runs the go command in dir. The repository root builds in
// workspace mode (go.work joins the examples); e2e builds in module mode,
// from its own go.mod.
func goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	gowork := filepath.Join(repoRoot, "go.work")
	if dir != repoRoot {
		gowork = "off"
	}
	cmd.Env = append(os.Environ(), "GOWORK="+gowork, "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// findUI returns the jaeger-ui build that the Jaegers serve, by the rule
// of scripts/ui.sh: JAEGER_UI_ASSETS when set (an absolute path: Jaeger
// runs in e2e/), else ../shared/jaeger-ui beside the repository when it
// exists, else "": Jaeger built from its Go module then serves only a
// placeholder page. The note says which, to be printed.
func findUI() (dir, note string, err error) {
	if dir = os.Getenv("JAEGER_UI_ASSETS"); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", "", fmt.Errorf("JAEGER_UI_ASSETS=%s: give an absolute path (Jaeger runs in e2e/)", dir)
		}
		if !isUIBuild(dir) {
			return "", "", fmt.Errorf("JAEGER_UI_ASSETS=%s is not a jaeger-ui build: it has no index.html", dir)
		}
		return dir, "serving the Jaeger UI from JAEGER_UI_ASSETS=" + dir, nil
	}
	dir = filepath.Join(filepath.Dir(repoRoot), "shared", "jaeger-ui")
	if isUIBuild(dir) {
		return dir, "serving the Jaeger UI from " + dir, nil
	}
	return "", "no jaeger-ui build (JAEGER_UI_ASSETS is unset and " + dir + " does not exist): " +
		"Jaeger serves only its placeholder page, and the browser test skips (fails under CI=true). " +
		"To get the UI, see the README's \"See it in Jaeger\".", nil
}

func isUIBuild(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "index.html"))
	return err == nil && fi.Mode().IsRegular()
}

// jaegerBuildCost is what building Jaeger costs, said before the build.
const jaegerBuildCost = "building Jaeger v1.76.0 from the module proxy: ~4 min warm cache, up to 25 min cold on 2 cores " +
	"(JAEGER_BIN=/path/to/jaeger uses a Jaeger v2 binary of yours instead)"

// buildJaeger returns the Jaeger the tests start: JAEGER_BIN when set (a
// Jaeger v2 binary of the user's, an absolute path or a name on $PATH: no
// build), else the pinned Jaeger, built into the cache directory. go build
// relinks only when the binary there is out of date, so after the first
// build (minutes) this takes seconds.
func buildJaeger() (string, error) {
	if bin := os.Getenv("JAEGER_BIN"); bin != "" {
		if strings.ContainsRune(bin, filepath.Separator) && !filepath.IsAbs(bin) {
			return "", fmt.Errorf("JAEGER_BIN=%s: give an absolute path (the tests run in e2e/)", bin)
		}
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("JAEGER_BIN=%s: %v", bin, err)
		}
		fmt.Fprintf(os.Stderr, "e2e: using JAEGER_BIN=%s, not building Jaeger\n", p)
		return p, nil
	}
	dir := os.Getenv("OTELGUARD_E2E_CACHE")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(c, "otelguard-e2e")
	}
	bin := filepath.Join(dir, "jaeger")
	start := time.Now()
	if _, err := os.Stat(bin); err == nil {
		fmt.Fprintf(os.Stderr, "e2e: %s is built: go build checks it is up to date (seconds; a rebuild after a change of Go or of e2e/go.mod costs minutes)\n", bin)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: %s, into %s\n", jaegerBuildCost, dir)
	}
	if err := goCmd(".", "build", "-o", bin, jaegerPkg); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "e2e: Jaeger ready in %v\n", time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// jaeger is a running Jaeger, in memory, on ports of its own.
type jaeger struct {
	name     string
	otlpHTTP string // host:port of the OTLP/HTTP receiver
	query    string // host:port of the query API and UI
	health   string
	cmd      *exec.Cmd
	exited   chan struct{}
	logPath  string
}

// startJaeger starts a Jaeger on free ports and waits until it is healthy.
// A port taken between being picked and being bound makes Jaeger exit at
// once: it is retried on new ports, a bounded number of times.
func startJaeger(name string) (*jaeger, error) {
	var err error
	for attempt := range 3 {
		var j *jaeger
		if j, err = tryStartJaeger(fmt.Sprintf("%s-%d", name, attempt)); err == nil {
			return j, nil
		}
	}
	return nil, err
}

func tryStartJaeger(name string) (*jaeger, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	j := &jaeger{
		name:     name,
		otlpHTTP: ports[0],
		query:    ports[2],
		health:   ports[4],
		exited:   make(chan struct{}),
		logPath:  filepath.Join(workDir, "jaeger-"+name+".log"),
	}
	logf, err := os.Create(j.logPath)
	if err != nil {
		return nil, err
	}
	j.cmd = exec.Command(jaegerBin, "--config", "jaeger.yaml")
	j.cmd.Env = append(os.Environ(),
		"JAEGER_OTLP_HTTP="+ports[0], "JAEGER_OTLP_GRPC="+ports[1],
		"JAEGER_QUERY_HTTP="+ports[2], "JAEGER_QUERY_GRPC="+ports[3],
		"JAEGER_HEALTH="+ports[4], "JAEGER_UI_ASSETS="+uiAssets)
	j.cmd.Stdout, j.cmd.Stderr = logf, logf
	if err := j.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		j.cmd.Wait()
		logf.Close()
		close(j.exited)
	}()
	if err := j.waitHealthy(60 * time.Second); err != nil {
		j.stop()
		return nil, fmt.Errorf("jaeger %s: %w\n%s", name, err, j.logTail())
	}
	return j, nil
}

// waitHealthy polls the health check until it says OK, Jaeger exits, or
// timeout passes.
func (j *jaeger) waitHealthy(timeout time.Duration) error {
	return retry(timeout, func() (bool, error) {
		select {
		case <-j.exited:
			return false, errExited
		default:
		}
		resp, err := http.Get("http://" + j.health + "/status")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("health: %s", resp.Status)
	})
}

var errExited = errors.New("exited")

// stop ends Jaeger (continuing it first, if it was stopped) and waits for
// it, for a bounded time.
func (j *jaeger) stop() {
	p := j.cmd.Process
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
	case <-time.After(10 * time.Second):
		p.Kill()
		<-j.exited
	}
}

func (j *jaeger) logTail() string {
	b, _ := os.ReadFile(j.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// freePorts returns n distinct free ports of 127.0.0.1, as host:port.
func freePorts(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close() // held until all are picked, so they differ
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// retry calls try until it reports done, with a pause that doubles up to
// half a second, for at most timeout. It returns try's last error if
// timeout passes, and at once if try returns errExited.
func retry(timeout time.Duration, try func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	pause := 20 * time.Millisecond
	for {
		done, err := try()
		if done {
			return nil
		}
		if errors.Is(err, errExited) || time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", timeout, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// Jaeger's query API (/api/traces): the JSON its UI reads.

type jTrace struct {
	TraceID string  `json:"traceID"`
	Spans   []jSpan `json:"spans"`
}

type jSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []jKV  `json:"tags"`
	Logs []jLog `json:"logs"` // the span's events
}

// jKV is a tag, or a field of a log.
type jKV struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// jLog is a span event as Jaeger shows it: a log whose field "event" is
// the event's name, the others its attributes.
type jLog struct {
	Timestamp int64 `json:"timestamp"` // microseconds since the epoch
	Fields    []jKV `json:"fields"`
}

// str returns the field key formatted as a string, "" if it is absent.
func (l *jLog) str(key string) string {
	for _, f := range l.Fields {
		if f.Key == key {
			return fmt.Sprint(f.Value)
		}
	}
	return ""
}

// time is when the event happened.
func (l *jLog) time() time.Time { return time.UnixMicro(l.Timestamp) }

// events returns the span's events named name.
func (s *jSpan) events(name string) []jLog {
	var out []jLog
	for _, l := range s.Logs {
		if l.str("event") == name {
			out = append(out, l)
		}
	}
	return out
}

// matches tells whether the span has the tag key with value v, or an event
// with that attribute: what Jaeger's tag search matches.
func (s *jSpan) matches(key, v string) bool {
	if s.str(key) == v {
		return true
	}
	for i := range s.Logs {
		if s.Logs[i].str(key) == v {
			return true
		}
	}
	return false
}

// tag returns the value of the tag key, as Jaeger's JSON has it (string,
// bool or float64), and whether the span has it.
func (s *jSpan) tag(key string) (any, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return nil, false
}

// str returns the tag key formatted as a string, "" if it is absent.
func (s *jSpan) str(key string) string {
	v, ok := s.tag(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// parent returns the span ID of the span's parent, "" for a root.
func (s *jSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// match is a span found by a tag search, with the trace it belongs to.
type match struct {
	span  *jSpan
	trace *jTrace
}

// request returns the server span of the request that s is under — its
// parent, or an ancestor for a lifetime acquired by another's release —
// or nil.
func (m match) request(s *jSpan) *jSpan {
	for p := m.spanByID(s.parent()); p != nil; p = m.spanByID(p.parent()) {
		if p.str("span.kind") == "server" {
			return p
		}
	}
	return nil
}

// spanByID returns the span of m's trace with the given ID, or nil.
func (m match) spanByID(id string) *jSpan {
	for i := range m.trace.Spans {
		if m.trace.Spans[i].SpanID == id {
			return &m.trace.Spans[i]
		}
	}
	return nil
}

// search asks Jaeger for the traces of service with a span carrying every
// one of tags (as a tag, or as an attribute of one of its events), as its
// UI's search does, and returns those spans.
func (j *jaeger) search(service string, tags map[string]string) ([]match, error) {
	tagJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	q := url.Values{"service": {service}, "tags": {string(tagJSON)}, "limit": {"1000"}}
	var body struct {
		Data   []jTrace `json:"data"`
		Errors any      `json:"errors"`
	}
	if err := j.get("/api/traces?"+q.Encode(), &body); err != nil {
		return nil, err
	}
	if body.Errors != nil {
		return nil, fmt.Errorf("jaeger: %v", body.Errors)
	}
	var ms []match
	for ti := range body.Data {
		tr := &body.Data[ti]
		for si := range tr.Spans {
			s := &tr.Spans[si]
			ok := true
			for k, v := range tags {
				ok = ok && s.matches(k, v)
			}
			if ok {
				ms = append(ms, match{s, tr})
			}
		}
	}
	return ms, nil
}

// searchAtLeast polls search until it finds at least n spans: Jaeger
// stores what it receives after a short batching delay.
func (j *jaeger) searchAtLeast(t *testing.T, service string, tags map[string]string, n int) []match {
	t.Helper()
	var ms []match
	err := retry(30*time.Second, func() (bool, error) {
		var err error
		ms, err = j.search(service, tags)
		if err != nil {
			return false, err
		}
		return len(ms) >= n, fmt.Errorf("found %d spans, want at least %d", len(ms), n)
	})
	if err != nil {
		t.Fatalf("jaeger: service %s, tags %v: %v", service, tags, err)
	}
	return ms
}

func (j *jaeger) get(path string, into any) error {
	resp, err := http.Get("http://" + j.query + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// serviceName is a service name no other test uses: Jaeger's search is by
// service, so the tests sharing a Jaeger never see each other's spans.
func serviceName(t *testing.T) string {
	return fmt.Sprintf("e2e-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
}

// otlpEnv is the environment that sends an example's spans to j over
// OTLP/HTTP, as service: the OTEL_* variables of the test's own
// environment are left out.
func otlpEnv(j *jaeger, service string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=none",
		"OTEL_LOGS_EXPORTER=none",
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+j.otlpHTTP,
		"OTEL_SERVICE_NAME="+service,
	)
	return append(env, extra...)
}

// example returns the binary of an example built by TestMain, skipping the
// test if the example does not exist.
func example(t *testing.T, name string) string {
	t.Helper()
	needJaeger(t)
	bin, ok := examples[name]
	if !ok {
		t.Skipf("examples/%s does not exist", name)
	}
	return bin
}

// runExample runs an example to completion, for at most two minutes, and
// fails the test unless it exits 0.
func runExample(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

// process is an example running in the background.
type process struct {
	cmd    *exec.Cmd
	lines  chan string // its standard output, line by line
	stderr *lockedBuffer
	exited chan struct{}
	// stdin is its standard input, held open until it exits: a process
	// that watches it (pgservice -watch-stdin) sees it close when the test
	// binary ends, however it ends, and stops what it started.
	stdin io.WriteCloser
}

func startProcess(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{
		cmd:    exec.Command(bin, args...),
		lines:  make(chan string, 100),
		stderr: &lockedBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody reads that far
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
