package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
)

// pollTimeout bounds a long poll that no news ends and its client never
// gives up on.
const pollTimeout = 10 * time.Second

type server struct {
	tracker  *otelguard.Tracker
	db       *sql.DB      // opened through guardsql
	client   *http.Client // through guardhttp.NewTransport
	upstream string       // the upstream's base URL
	news     *hub

	exports sync.WaitGroup // export jobs still running
}

// routes wraps each handler in otelhttp, so every request is a server span
// named after its route and the lifetimes a handler acquires with the
// request's context are its children; and the mux in guardhttp.NewHandler,
// so every request reports the lifetimes it left open when its handler
// returns. NewHandler wraps the mux, not the handlers, to learn each
// request's route from the mux.
func (s *server) routes(tp trace.TracerProvider) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tp)))
	}
	handle("GET /query", s.handleQuery)
	handle("GET /leak", s.handleLeak)
	handle("GET /lookup", s.handleLookup)
	handle("GET /transfer", s.handleTransfer)
	handle("GET /report", s.handleReport)
	handle("GET /poll", s.handlePoll)
	handle("GET /quote", s.handleQuote)
	handle("GET /export", s.handleExport)
	handle("GET /catalog", s.handleCatalog)
	return guardhttp.NewHandler(mux, guardhttp.WithTracker(s.tracker))
}

// handleQuery is the clean request: a query whose row is scanned, which
// closes its rows. Its db.rows span ends cleaned, trigger close,
// otelguard.db.closed_by=caller.
func (s *server) handleQuery(w http.ResponseWriter, r *http.Request) {
	var name string
	if err := s.db.QueryRowContext(r.Context(), "SELECT name FROM users WHERE id = ?", 1).Scan(&name); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "query:", name)
}

// handleLeak lists a user's orders, and returns early on a cancelled one
// without closing its rows. Its query is detached from the request, as code
// is that must not be cut short by a client going away:
// context.WithoutCancel keeps the request's values (its span, its Tracker,
// its otelguard Request) but never ends, so database/sql never closes the
// rows itself. Once the handler has returned they are garbage: NewHandler
// reports them as outliving the request, and leak detection finds them at
// a collection: db.rows leaked_without_close, trigger gc, with this
// function in code.stacktrace. Their connection is lost for good
// (database/sql counts it in use until the process exits): see guardsql's
// "The pool after a leak".
func (s *server) handleLeak(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithoutCancel(r.Context())
	rows, err := s.db.QueryContext(ctx, "SELECT item, status FROM orders WHERE user_id = ? ORDER BY id", 1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var items []string
	for rows.Next() {
		var item, status string
		if err := rows.Scan(&item, &status); err != nil {
			rows.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if status == "cancelled" {
			http.Error(w, "leak: order of "+item+" cancelled", http.StatusConflict)
			return // rows.Close forgotten on the early return: the bug this story is about
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "leak: orders", strings.Join(items, ", "))
}

// handleLookup has the same bug with the request's own context, the usual
// case: the first row will do, and the rows are left open. NewHandler
// reports them as outliving the request when the handler returns; then
// net/http cancels the request's context, and database/sql closes the rows
// itself. Nothing is lost for good, but the connection was held for the
// whole request: db.rows cleaned, trigger cancel,
// otelguard.db.closed_by=context.
func (s *server) handleLookup(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), "SELECT id, name FROM users ORDER BY id")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if rows.Next() {
		var id int
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "lookup: first user %d, %s\n", id, name)
		return // the first row will do, and rows.Close is forgotten: the bug this story is about
	}
	rows.Close()
	http.Error(w, "lookup: no users", http.StatusNotFound)
}

// handleTransfer moves money between two accounts in a transaction, and
// commits it: db.tx cleaned, otelguard.db.tx.result=commit. With ?fail=1
// the transfer is refused on an error path that forgets tx.Rollback: the
// transaction holds its connection (and SQLite's write lock) until the
// request ends, when database/sql rolls it back because its context ended:
// db.tx cleaned, trigger cancel, otelguard.db.closed_by=context, result
// rollback, with NewHandler's otelguard.request.outlived event before.
func (s *server) handleTransfer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance - 10 WHERE id = 1"); err != nil {
		_ = tx.Rollback()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if r.FormValue("fail") != "" {
		http.Error(w, "transfer: refused", http.StatusConflict)
		return // tx.Rollback forgotten on the error path: the bug this story is about
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + 10 WHERE id = 2"); err != nil {
		_ = tx.Rollback()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := tx.Commit(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.news.publish("transfer committed")
	fmt.Fprintln(w, "transfer: committed")
}

// handleReport renders a report from the database and archives it
// upstream. The archive is slow (archiveTime), so the upload is the
// release of a report.archive Resource closed with CloseAsync: the
// response goes out at once, and the report.archive span, ending after its
// request's, shows the upload's duration in otelguard.cleanup.duration_ms.
// CloseAsync has started the release when the handler returns, so
// NewHandler does not report it.
func (s *server) handleReport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rows, err := s.db.QueryContext(ctx, `SELECT u.name, COUNT(o.id) FROM users u
		LEFT JOIN orders o ON o.user_id = u.id AND o.status = 'shipped'
		GROUP BY u.id ORDER BY u.id`)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	var report bytes.Buffer
	for rows.Next() {
		var name string
		var shipped int
		if err := rows.Scan(&name, &shipped); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(&report, "%s: %d shipped\n", name, shipped)
	}
	if err := rows.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	archived := otelguard.Acquire(ctx, "report.archive", report.Bytes(), s.archive)
	_, _ = w.Write(report.Bytes())

	// The request's context is cancelled when the handler returns; the
	// upload must not be, so it gets the context without its cancellation.
	// The outcome is on the span: nobody waits for the channel.
	archived.CloseAsync(context.WithoutCancel(ctx))
}

// archive uploads a report to the upstream's archive.
func (s *server) archive(ctx context.Context, report []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.upstream+"/archive", bytes.NewReader(report))
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("archive: %s", resp.Status)
	}
	return nil
}

// handlePoll is a long poll: it subscribes to news and waits until there
// is some or its client gives up. CloseOnCancel unsubscribes as soon as the
// request's context is cancelled (poll.subscription ends cleaned, trigger
// cancel): no code path here has to remember it. The handler waits for
// the unsubscription itself, not for the context, so that it returns only
// once the release has run and NewHandler finds nothing open.
func (s *server) handlePoll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sub := otelguard.Acquire(ctx, "poll.subscription", s.news.subscribe(), s.news.unsubscribe, otelguard.CloseOnCancel())
	news, gone := sub.Value().news, sub.Value().gone

	w.WriteHeader(http.StatusAccepted) // the client knows we are waiting
	_ = http.NewResponseController(w).Flush()

	select {
	case <-gone: // the client went away: CloseOnCancel unsubscribed
	case msg := <-news:
		_ = sub.Close(ctx)
		fmt.Fprintln(w, "poll:", msg)
	case <-time.After(pollTimeout):
		_ = sub.Close(ctx)
	}
}

// handleQuote asks the upstream for an item's price, through the client's
// guardhttp Transport: the response body is an http.response.body
// lifetime, cleaned when it is read and closed. When the upstream does not
// know the item, the handler returns on an error path that forgets the
// body: NewHandler reports it as outliving the request when the handler
// returns, and leak detection finds it at a collection:
// leaked_without_close, trigger gc, with this function in code.stacktrace;
// the body is closed then (otelguard.leak.released=true), so its
// connection is freed.
func (s *server) handleQuote(w http.ResponseWriter, r *http.Request) {
	item := r.FormValue("item")
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.upstream+"/prices/"+url.PathEscape(item), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode != http.StatusOK {
		http.Error(w, "quote: the upstream says "+resp.Status, http.StatusNotFound)
		return // resp.Body.Close forgotten on the error path: the bug this story is about
	}
	defer resp.Body.Close()
	price, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, "quote: %s %s", item, price)
}

// handleExport starts an export that a goroutine finishes after the
// response, on a connection the handler took for it: a DB.Conn checkout,
// a db.conn lifetime acquired with the request's context. The job is meant
// to outlive the request, and nothing says so: NewHandler reports the
// db.conn when the handler returns, with the span event
// otelguard.request.outlived (the request's method and route) and a
// warning, though nothing is wrong with the job itself: db.conn ends
// cleaned when the goroutine is done. The fix is to take the connection in
// the goroutine, with a context of its own.
func (s *server) handleExport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, err := s.db.Conn(ctx) // belongs to the request: its context's
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.exports.Add(1)
	go s.runExport(ctx, conn)
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "export: started")
}

// runExport runs once the response has gone out — net/http cancels the
// request's context when it is done with the request — so as not to
// compete with it, then gives the connection back.
func (s *server) runExport(rctx context.Context, conn *sql.Conn) {
	defer s.exports.Done()
	defer conn.Close()
	<-rctx.Done()
	ctx := context.WithoutCancel(rctx)
	var n int
	_ = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders").Scan(&n) // the export, in short
}

// waitExports waits for the export jobs still running, for at most as
// long as ctx lasts.
func (s *server) waitExports(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.exports.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("export jobs still running: %w", ctx.Err())
	}
}

// hub hands news to the long polls waiting for it.
type hub struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

type subscription struct {
	news chan string   // the next piece of news
	gone chan struct{} // closed when unsubscribed
}

func newHub() *hub { return &hub{subs: map[*subscription]struct{}{}} }

func (h *hub) subscribe() *subscription {
	s := &subscription{news: make(chan string, 1), gone: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// unsubscribe is a subscription's release.
func (h *hub) unsubscribe(_ context.Context, s *subscription) error {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
	close(s.gone)
	return nil
}

// publish gives msg to every subscriber that has none waiting.
func (h *hub) publish(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.news <- msg:
		default:
		}
	}
}
