package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// What the browser test runs and looks for. The Go names in stacks, the
// span names and the service names the examples use are all here, so that
// following them is an edit of this block only.
var (
	// uiRuns are the example runs that feed the browser test's Jaeger.
	uiRuns = []struct {
		example, service string
		args             []string
	}{
		{"service", "otelguard-service", []string{"-selftest", "1"}},
		{"quickstart", "otelguard-quickstart", nil},
	}

	// uiStories are the lifetimes the test finds in the UI, one subtest each.
	uiStories = []uiStory{{
		name:    "leaked",
		service: "otelguard-service", outcome: "leaked_without_close",
		span: "db.rows", parent: "GET /leak",
		tags:          map[string]string{"otelguard.trigger": "gc", "error": "true"},
		stack:         "main.(*server).handleLeak(",
		traceErrors:   true,
		picture:       "jaeger-leak.png",
		searchPicture: "jaeger-search.png",
	}, {
		name:    "leaked_body",
		service: "otelguard-service", outcome: "leaked_without_close",
		span: "http.response.body", parent: "GET /quote",
		tags:        map[string]string{"otelguard.trigger": "gc", "otelguard.leak.released": "true", "error": "true"},
		stack:       "main.(*server).handleQuote(",
		traceErrors: true,
	}, {
		name:    "timed_out",
		service: "otelguard-quickstart", outcome: "timed_out",
		span:        "socket.drain",
		tags:        map[string]string{"otelguard.trigger": "close", "error.type": "timeout", "error": "true"},
		traceErrors: true,
	}, {
		name:    "cleaned",
		service: "otelguard-service", outcome: "cleaned",
		span: "db.rows", parent: "GET /query",
		tags: map[string]string{"otelguard.trigger": "close", "otelguard.kind": "resource"},
	}}
)

// uiStory is a lifetime as a user finds it in the Jaeger UI: by a tag
// search on its outcome, then in its trace's page.
type uiStory struct {
	name    string
	service string
	outcome string            // the otelguard.outcome searched for
	span    string            // the lifetime span's name
	parent  string            // its parent span's name; "" for any
	tags    map[string]string // more tags its details must show
	stack   string            // what its code.stacktrace must name; "" for none
	// traceErrors says whether its trace has spans in error: the search
	// result shows their count.
	traceErrors bool
	// picture and searchPicture name the screenshots of its trace page and
	// of its search taken into $OTELGUARD_SCREENSHOTS; "" for none.
	picture, searchPicture string
}

// The browser's viewport on the search page and on a trace's page, and so
// the pictures' sizes: the search form is wide enough for the tag and
// tall enough for both leaks the service's search finds, the trace page
// tall enough for the expanded span's stack.
const (
	searchW, searchH = 1600, 780
	traceW, traceH   = 1400, 900
)

// stepTimeout bounds each step of a walk: a page to load, a click to show
// what it should.
const stepTimeout = 30 * time.Second

// TestJaegerUI walks the user's path in the real Jaeger UI, in headless
// Chromium driven through the DevTools protocol: for each story, open the
// search page with the service and the otelguard.outcome tag, see the trace
// listed with its span and error counts, open it, find the lifetime's span
// by its name, expand it and its tags, and read there its outcome, trigger
// and, for a leak, the handler named in code.stacktrace.
//
// It needs a jaeger-ui build (see findUI) and skips without one, saying
// so, except under CI=true, where the build is part of what CI provides and
// its absence fails the test; with one, a missing Chromium fails it
// (.ci/run installs Chromium). With
// OTELGUARD_SCREENSHOTS=dir it also takes the README's pictures into dir
// (scripts/screenshot.sh, make screenshot).
func TestJaegerUI(t *testing.T) {
	needJaeger(t)
	pictures := os.Getenv("OTELGUARD_SCREENSHOTS")
	if uiAssets == "" {
		if pictures != "" {
			t.Fatal("OTELGUARD_SCREENSHOTS is set, but there is no jaeger-ui build to take pictures of: " +
				"set JAEGER_UI_ASSETS to one (the README's \"See it in Jaeger\" says how to get one)")
		}
		const why = "no jaeger-ui build: JAEGER_UI_ASSETS is unset and ../shared/jaeger-ui does not exist, " +
			"so Jaeger serves only its placeholder page and there is no UI to walk through; " +
			"set JAEGER_UI_ASSETS to a build of jaeger-ui v1.76.0 to run this test"
		if inCI() {
			t.Fatal(why + " (CI=true: CI provides the build, so its absence fails, it does not skip)")
		}
		t.Skip(why)
	}
	bins := map[string]string{}
	for _, r := range uiRuns {
		bins[r.example] = example(t, r.example)
	}
	chromium := findChromium(t)

	// A Jaeger of its own: the search pages list only these runs, under the
	// service names a user sees.
	j, err := startJaeger("ui")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		j.stop()
		if t.Failed() {
			t.Logf("Jaeger's log, last lines:\n%s", j.logTail())
		}
	})
	if !servesUI(t, j) {
		t.Fatalf("Jaeger on %s serves its placeholder page, not the jaeger-ui build %s", j.query, uiAssets)
	}
	for _, r := range uiRuns {
		runExample(t, bins[r.example], otlpEnv(j, r.service), r.args...)
	}

	b := startBrowser(t, chromium)
	for _, s := range uiStories {
		t.Run(s.name, func(t *testing.T) {
			start := time.Now()
			s.walk(t, b, j, pictures)
			t.Logf("walked in %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// walk is one story's path through the UI.
func (s *uiStory) walk(t *testing.T, b *browser, j *jaeger, pictures string) {
	// What Jaeger holds, through its query API: the trace the search page
	// must list, and the span its page must show.
	m := s.find(t, j)
	traceID, spanID := m.trace.TraceID, m.span.SpanID
	errs := 0
	for i := range m.trace.Spans {
		if m.trace.Spans[i].str("error") == "true" {
			errs++
		}
	}
	if (errs > 0) != s.traceErrors {
		t.Fatalf("trace %s of %s %s has %d spans in error: the story expects errors=%v", traceID, s.outcome, s.span, errs, s.traceErrors)
	}

	// The search page, with the service and the tag, as the README says.
	tag := map[string]string{"otelguard.outcome": s.outcome}
	tagJSON, _ := json.Marshal(tag)
	search := fmt.Sprintf("http://%s/search?%s", j.query, url.Values{"service": {s.service}, "tags": {string(tagJSON)}}.Encode())
	link := fmt.Sprintf(`.ResultItem a.ResultItemTitle--item[href$="/trace/%s"]`, traceID)
	b.do(t, "the search page lists trace "+traceID,
		chromedp.EmulateViewport(searchW, searchH), chromedp.Navigate(search), chromedp.WaitVisible(chromedp.CSS(link)))
	if got := run(t, b, "read the search form's tags", chromedp.Value(chromedp.CSS(`input[name="tags"]`))); got != "otelguard.outcome="+s.outcome {
		t.Errorf("the search form's tags read %q, want otelguard.outcome=%s", got, s.outcome)
	}
	// The result's labels: "2 Spans", "1 Error" (none with no error),
	// then one per service.
	labels := run(t, b, "read the search result of trace "+traceID, chromedp.Evaluate[[]string](jsCall(`(link) =>
		[...document.querySelector(link).closest(".ResultItem").querySelectorAll(".ant-tag")].map(e => e.innerText.trim())`, link)))
	if want := fmt.Sprintf("%d Span%s", len(m.trace.Spans), plural(len(m.trace.Spans))); !slices.Contains(labels, want) {
		t.Errorf("the search result of trace %s does not show %q: %q", traceID, want, labels)
	}
	errLabel := slices.IndexFunc(labels, func(l string) bool { return strings.HasSuffix(l, " Error") || strings.HasSuffix(l, " Errors") })
	switch want := fmt.Sprintf("%d Error%s", errs, plural(errs)); {
	case errs == 0 && errLabel >= 0:
		t.Errorf("the search result of trace %s shows %q, but no span of it is in error", traceID, labels[errLabel])
	case errs > 0 && !slices.Contains(labels, want):
		t.Errorf("the search result of trace %s does not show %q: %q", traceID, want, labels)
	}
	if s.searchPicture != "" && pictures != "" {
		b.picture(t, filepath.Join(pictures, s.searchPicture))
	}

	// Open the trace as a user does, by clicking it.
	row := fmt.Sprintf(`.VirtualizedTraceView--row[data-item-key="%s--bar"]`, spanID)
	b.do(t, "open trace "+traceID+" from the search results",
		chromedp.EmulateViewport(traceW, traceH), chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS(row)))
	if loc := run(t, b, "read the page's address", chromedp.Location()); !strings.Contains(loc, "/trace/"+traceID) {
		t.Errorf("clicking the result of trace %s led to %s", traceID, loc)
	}

	// Find the span by its name: the rows named s.span must include it.
	named := run(t, b, "list the spans named "+s.span, chromedp.Evaluate[[]string](jsCall(`(name) =>
		[...document.querySelectorAll(".VirtualizedTraceView--row")]
			.filter(r => r.querySelector(".endpoint-name")?.innerText.trim() === name)
			.map(r => r.dataset.itemKey)`, s.span)))
	if !slices.Contains(named, spanID+"--bar") {
		t.Fatalf("trace %s's page shows no span named %s with ID %s (rows named so: %v)", traceID, s.span, spanID, named)
	}
	errIcon := run(t, b, "look for the span's error icon",
		chromedp.Evaluate[bool](jsCall(`(row) => document.querySelector(row + " .SpanBarRow--errorIcon") !== null`, row)))
	if inError := m.span.str("error") == "true"; errIcon != inError {
		t.Errorf("span %s (%s): error icon shown = %v, want %v", s.span, spanID, errIcon, inError)
	}

	// Expand it, then its tags.
	detail := fmt.Sprintf(`.VirtualizedTraceView--row[data-item-key="%s--detail"]`, spanID)
	header := detail + " .AccordianKeyValues--header"
	b.do(t, "expand span "+spanID, chromedp.Click(chromedp.CSS(row+" .span-name")), chromedp.WaitVisible(chromedp.CSS(header)))
	if h := run(t, b, "read the first section of the span's details", chromedp.Text(chromedp.CSS(header))); !strings.HasPrefix(strings.TrimSpace(h), "Tags") {
		t.Fatalf("span %s's details start with %q, not its tags", spanID, h)
	}
	b.do(t, "expand span "+spanID+"'s tags", chromedp.Click(chromedp.CSS(header)), chromedp.WaitVisible(chromedp.CSS(detail+" .KeyValueTable")))

	// Read them.
	if h := run(t, b, "read the span's name in its details", chromedp.Text(chromedp.CSS(detail+" h2"))); strings.TrimSpace(h) != s.span {
		t.Errorf("span %s's details are titled %q, want %s", spanID, h, s.span)
	}
	tags := run(t, b, "read the span's tags", chromedp.Evaluate[map[string]string](jsCall(`(detail) => {
		const tags = {};
		for (const tr of document.querySelectorAll(detail + " .KeyValueTable--row")) {
			const k = tr.querySelector(".KeyValueTable--keyColumn");
			const v = tr.querySelector(".KeyValueTable--valueColumn .ub-inline-block") || tr.querySelector(".KeyValueTable--valueColumn");
			if (k && v) tags[k.innerText.trim()] = v.innerText.trim();
		}
		return tags;
	}`, detail)))
	want := map[string]string{"otelguard.outcome": s.outcome}
	for k, v := range s.tags {
		want[k] = v
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("span %s %s shows %s = %q, want %q", s.span, spanID, k, tags[k], v)
		}
	}
	st, hasStack := tags["code.stacktrace"]
	switch {
	case s.stack != "" && !strings.Contains(st, s.stack):
		t.Errorf("span %s %s: its code.stacktrace does not name %s:\n%s", s.span, spanID, s.stack, st)
	case s.stack == "" && hasStack:
		t.Errorf("span %s %s (%s) shows a code.stacktrace; only leaks carry one:\n%s", s.span, spanID, s.outcome, st)
	}
	if t.Failed() {
		t.Logf("the tags shown: %v", tags)
	}

	if s.picture != "" && pictures != "" {
		// What the picture is for must be in it, not scrolled away.
		for _, what := range [][2]string{{"otelguard.outcome", ""}, {"code.stacktrace", s.stack}} {
			if !run(t, b, "check that "+what[0]+" is in view", chromedp.Evaluate[bool](jsCall(jsInView, detail, what[0], what[1]))) {
				t.Fatalf("%s %s is not in view in the picture of trace %s: enlarge the viewport (%dx%d)", what[0], what[1], traceID, traceW, traceH)
			}
		}
		b.picture(t, filepath.Join(pictures, s.picture))
	}
}

// jsInView tells whether the tag key of the expanded span detail is in
// view, in the browser's viewport and in the tag table's scrolled window;
// with needle, whether that part of its value is.
const jsInView = `(detail, key, needle) => {
	const table = document.querySelector(detail + " .KeyValueTable").getBoundingClientRect();
	const bottom = Math.min(table.bottom, window.innerHeight);
	for (const tr of document.querySelectorAll(detail + " .KeyValueTable--row")) {
		if (tr.querySelector(".KeyValueTable--keyColumn")?.innerText.trim() !== key) continue;
		let r = tr.getBoundingClientRect();
		if (needle) {
			r = null;
			const w = document.createTreeWalker(tr.querySelector(".KeyValueTable--valueColumn"), NodeFilter.SHOW_TEXT);
			for (let n; !r && (n = w.nextNode()); ) {
				const i = n.data.indexOf(needle);
				if (i < 0) continue;
				const rg = document.createRange();
				rg.setStart(n, i);
				rg.setEnd(n, i + needle.length);
				r = rg.getBoundingClientRect();
			}
			if (!r) return false;
		}
		return r.top >= table.top && r.bottom <= bottom;
	}
	return false;
}`

// find asks Jaeger's query API for the story's lifetime: a span named
// s.span with s.outcome, under a span named s.parent.
func (s *uiStory) find(t *testing.T, j *jaeger) match {
	t.Helper()
	var seen []string
	for _, m := range j.searchAtLeast(t, s.service, map[string]string{"otelguard.outcome": s.outcome}, 1) {
		parent := ""
		if p := m.spanByID(m.span.parent()); p != nil {
			parent = p.OperationName
		}
		if m.span.OperationName == s.span && (s.parent == "" || parent == s.parent) {
			return m
		}
		seen = append(seen, parent+" > "+m.span.OperationName)
	}
	t.Fatalf("Jaeger holds no %s span %s under %q of service %s (found %v): do uiStories follow the examples?",
		s.outcome, s.span, s.parent, s.service, seen)
	return match{}
}

// browser is a tab of a headless Chromium.
type browser struct {
	ctx context.Context
}

// startBrowser starts Chromium, closed when the test ends. The flags keep it
// off the network but for the pages it is sent to: without the
// background-networking ones it tries to reach Google's hosts, which a
// closed network refuses.
func startBrowser(t *testing.T, chromium string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), // a new, empty profile
		chromedp.WindowSize(traceW, traceH),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // ends Chromium and waits for it
	})
	// The first action starts Chromium and ties its life to the context it
	// is given: that is ctx, and the bound is kept here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", chromium, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not start within a minute", chromium)
	}
	return &browser{ctx: ctx}
}

// do runs the actions of one step, for at most stepTimeout, and fails the
// test saying what the step was for and what the page showed.
func (b *browser) do(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal(t, step, err)
	}
}

// run runs an action that reads the page, as do does.
func run[T any](t *testing.T, b *browser, step string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(t, step, err)
	}
	return v
}

func (b *browser) fatal(t *testing.T, step string, err error) {
	t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not within %v: %w", stepTimeout, err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 3000 {
		text = text[:3000] + "…"
	}
	t.Fatalf("%s: %v\nthe page %s shows:\n%s", step, err, loc, text)
}

// picture saves a screenshot of the viewport as a PNG file.
func (b *browser) picture(t *testing.T, file string) {
	t.Helper()
	png := run(t, b, "take a screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", file, len(png))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// jsCall is a JavaScript expression that calls the function fn with args,
// given as JSON.
func jsCall(fn string, args ...any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%s)(", fn)
	for i, a := range args {
		j, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(j)
	}
	b.WriteString(")")
	return b.String()
}

// servesUI tells the Jaeger UI from the placeholder page that a Jaeger
// built without it serves.
func servesUI(t *testing.T, j *jaeger) bool {
	t.Helper()
	resp, err := http.Get("http://" + j.query + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return !strings.Contains(string(b), "not the Jaeger UI you are looking for")
}

// findChromium returns the Chromium (or Chrome) on PATH, failing the test
// when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("a jaeger-ui build is at hand (%s) but no Chromium is on PATH to look at it: "+
		"install it (Debian: apt-get install -y chromium; .ci/run does)", uiAssets)
	return ""
}
