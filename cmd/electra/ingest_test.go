package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/electra-go/electra/schemas"
)

func TestIngestCommandJSONL(t *testing.T) {
	out := filepath.Join(t.TempDir(), "giga.jsonl")
	var stdout, stderr bytes.Buffer
	in := filepath.Join("..", "..", "ingest", "testdata", "gigaword.sgml")
	if rc := realMain([]string{"ingest", "--format", "gigaword", "--sink", "jsonl:" + out, "--progress=false", in}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	b, _ := os.ReadFile(out)
	var ids []string
	for line := range strings.Lines(string(b)) {
		d, err := schemas.DecodeDocument([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, " ") != "gigaword:XIN_ENG_20230101.0001 gigaword:AFP_ENG_20230101.0003" {
		t.Errorf("ids %v", ids)
	}
	dl, _ := os.ReadFile(filepath.Join(filepath.Dir(out), "giga.dlq.jsonl"))
	if !strings.Contains(string(dl), `"reason":"malformed-sgml"`) || !strings.Contains(string(dl), in) {
		t.Errorf("dead letters: %s", dl)
	}
}

func TestIngestCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"ingest"},
		{"ingest", "--format", "wikipedia"},
		{"ingest", "--format", "books", "--input", "x", "--sink", "ftp:x"},
		{"broker"},
	} {
		var stdout, stderr bytes.Buffer
		if rc := realMain(args, &stdout, &stderr); rc != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, rc)
		}
	}
}

// TestBrokerCommand runs `electra broker` and ingests into it with
// `electra ingest --brokers`, then reads the topic with franz-go.
func TestBrokerCommand(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	dataDir := t.TempDir()
	done := make(chan error, 1)
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ml.Addr().String()
	ml.Close()
	go func() {
		done <- runBroker(ctx, []string{"--data-dir", dataDir, "--port", strconv.Itoa(port), "--partitions", "2", "--metrics-addr", metricsAddr})
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("broker never listened on %s", addr)
		}
		time.Sleep(25 * time.Millisecond)
	}
	in := filepath.Join("..", "..", "ingest", "testdata", "export-0.11.xml")
	var stdout, stderr bytes.Buffer
	if rc := realMain([]string{"ingest", "--format", "wikipedia", "--input", in, "--brokers", addr, "--progress=false"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("ingest exit %d: %s", rc, stderr.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(schemas.TopicDocs), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	for len(got) < 2 && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)] = true })
	}
	pcancel()
	cl.Close()
	if !got["wikipedia:testwiki:1"] || !got["wikipedia:testwiki:4"] || len(got) != 2 {
		t.Errorf("topic holds %v", got)
	}
	// The broker's metrics count the two documents on the topic.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var total float64
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "electra_broker_log_end_offset{") && strings.Contains(line, `topic="`+schemas.TopicDocs+`"`) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			total += v
		}
	}
	if total != 2 || !strings.Contains(string(body), "electra_broker_up 1") {
		t.Errorf("metrics count %v records on %s, want 2:\n%s", total, schemas.TopicDocs, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("broker: %v", err)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) == 0 {
		t.Error("the broker wrote nothing to its data dir")
	}
}
