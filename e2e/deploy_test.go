package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deployed is a Jaeger started from one of deploy/'s configurations, as a
// user runs it, on free ports of 127.0.0.1 given through the variables the
// file reads.
type deployed struct {
	*jaeger
	config   string   // the file, under deploy/
	otlpGRPC string   // host:port of its OTLP/gRPC receiver
	metrics  string   // host:port of its Prometheus metrics
	ports    []string // as picked: a restart reuses them
	env      []string // the variables of the file's own, as given
}

// startDeployed starts deploy/config with env (the file's own variables:
// BADGER_DIR, TAIL_DECISION_WAIT, ...) on free ports, waits until it is
// healthy, and stops it when the test ends. A port taken between being
// picked and being bound makes Jaeger exit at once: it is retried on new
// ports, a bounded number of times.
func startDeployed(t *testing.T, name, config string, env ...string) *deployed {
	t.Helper()
	needJaeger(t)
	var err error
	for attempt := range 3 {
		var ports []string
		if ports, err = freePorts(6); err != nil {
			break
		}
		var d *deployed
		if d, err = tryStartDeployed(fmt.Sprintf("%s-%d", name, attempt), config, ports, env); err == nil {
			t.Cleanup(func() {
				d.stop()
				if t.Failed() {
					t.Logf("%s's log, last lines:\n%s", d.name, d.logTail())
				}
			})
			return d
		}
	}
	t.Fatalf("deploy/%s: %v", config, err)
	return nil
}

func tryStartDeployed(name, config string, ports, env []string) (*deployed, error) {
	d := &deployed{
		jaeger: &jaeger{
			name:     name,
			otlpHTTP: ports[0],
			query:    ports[2],
			health:   ports[4],
			exited:   make(chan struct{}),
			logPath:  filepath.Join(workDir, "jaeger-"+name+".log"),
		},
		config:   config,
		otlpGRPC: ports[1],
		metrics:  ports[5],
		ports:    ports,
		env:      env,
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	_, metricsPort, _ := strings.Cut(ports[5], ":")
	d.cmd = exec.Command(jaegerBin, "--config", filepath.Join(repoRoot, "deploy", config))
	d.cmd.Env = append(os.Environ(),
		"JAEGER_OTLP_HTTP="+ports[0], "JAEGER_OTLP_GRPC="+ports[1],
		"JAEGER_QUERY_HTTP="+ports[2], "JAEGER_QUERY_GRPC="+ports[3],
		"JAEGER_HEALTH="+ports[4],
		"JAEGER_METRICS_HOST=127.0.0.1", "JAEGER_METRICS_PORT="+metricsPort,
		"JAEGER_UI_ASSETS="+uiAssets)
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		d.cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	if err := d.waitHealthy(60 * time.Second); err != nil {
		d.stop()
		return nil, fmt.Errorf("jaeger %s: %w\n%s", name, err, d.logTail())
	}
	return d, nil
}

// restart starts d again, after it exited, on the same ports, the same
// data directory and the same log.
func (d *deployed) restart(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
	default:
		t.Fatalf("%s: restart while it runs", d.name)
	}
	nd, err := tryStartDeployed(d.name, d.config, d.ports, d.env)
	if err != nil {
		t.Fatal(err)
	}
	*d = *nd
}

// TestDeployConfigsStart starts each of deploy/'s configurations as a user
// runs it (its required variables set, every other default kept but the
// addresses) and checks that it is healthy, serves what it should (the
// query API; its own metrics) and stops cleanly.
func TestDeployConfigsStart(t *testing.T) {
	needJaeger(t)
	sink, err := freePorts(1) // where the collector tier sends: nothing listens
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		config string
		query  bool
		env    []string
	}{
		{"jaeger-tail-sampling.yaml", true, []string{"BADGER_DIR=" + t.TempDir()}},
		{"jaeger-storage-tier.yaml", true, []string{"BADGER_DIR=" + t.TempDir()}},
		{"jaeger-collector-tier.yaml", false, []string{"STORAGE_OTLP_ENDPOINT=" + sink[0]}},
	} {
		t.Run(strings.TrimSuffix(c.config, ".yaml"), func(t *testing.T) {
			d := startDeployed(t, strings.TrimSuffix(c.config, ".yaml"), c.config, c.env...)
			if c.query {
				var body struct{ Data []string }
				if err := d.get("/api/services", &body); err != nil {
					t.Errorf("query API: %v", err)
				}
			}
			resp, err := http.Get("http://" + d.metrics + "/metrics")
			if err != nil {
				t.Fatalf("metrics: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("metrics: %s", resp.Status)
			}
			d.stop()
			if code := d.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d after SIGTERM\n%s", code, d.logTail())
			}
		})
	}
	// Without its data directory, the one-node file refuses to start
	// rather than store nowhere.
	t.Run("no BADGER_DIR", func(t *testing.T) {
		ports, err := freePorts(6)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tryStartDeployed("no-badger-dir", "jaeger-tail-sampling.yaml", ports, []string{"BADGER_DIR="})
		if err == nil {
			d.stop()
			t.Fatal("started without BADGER_DIR")
		}
		if !strings.Contains(err.Error(), `Error Creating Dir: ""`) {
			t.Errorf("without BADGER_DIR: %v; want Badger's refusal of the empty directory", err)
		}
	})
}

// httpGet returns the body of a GET of url, an error unless it is 200 OK.
func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}
